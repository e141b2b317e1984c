import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, runCli } from "../helpers/cli.js";
import { testLlamaModel } from "../models/testModelCache.js";

describe("sovereign model add|list|verify|rm", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sovereign-model-cli-"));
  beforeAll(() => ensureBuilt(), 300_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const cli = (...args: string[]) => runCli([...args, "--data-dir", dataDir]);

  it("installs, lists, verifies and removes a model; refuses a wrong sha256 with a hint", () => {
    const file = testLlamaModel();
    const sha = createHash("sha256").update(readFileSync(file)).digest("hex");
    const bad = cli("model", "add", file, "--name", "x", "--sha256", "b".repeat(64));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("sha256 mismatch");
    const add = cli("model", "add", file, "--name", "tiny", "--json");
    expect(add.status, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ name: "tiny", sha256: sha, architecture: "llama" });
    const list = cli("model", "list", "--json");
    expect((JSON.parse(list.stdout) as { models: Array<{ name: string }> }).models.map((m) => m.name)).toEqual(["tiny"]);
    const verify = cli("model", "verify");
    expect(verify.status).toBe(0);
    expect(verify.stdout).toContain("ok   tiny");
    expect(cli("model", "rm", "tiny").status).toBe(0);
    const missing = cli("model", "rm", "tiny");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("hint:");
  });
});
