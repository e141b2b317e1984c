import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { createContext } from "../../image/pipeline.js";
import { modelsStep } from "../../image/steps/models.js";
import { DATA_DIR, SERVICE_USER } from "../../image/lib/units.js";
import { ModelRegistry } from "../../services/inference/ModelRegistry.js";
import { testLlamaModel } from "../models/testModelCache.js";

const tmp = mkdtempSync(join(tmpdir(), "sov-image-models-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const configured = { configure: { ids: { luksUuid: "", rootFsUuid: "", bootVolumeId: "" }, hostname: "h", exposure: null } };

describe("the models step", () => {
  it("installs a --model with the registry's own manifest, so the node serves it as the default chat model", async () => {
    const ctx = createContext({ board: "x86_64", out: join(tmp, "out"), models: [testLlamaModel("tiny")], mirror: "http://deb.debian.org/debian", cache: join(tmp, "cache"), compress: "zstd", repoRoot: tmp, dryRun: true });
    mkdirSync(join(ctx.rootfs, "etc"), { recursive: true });
    writeFileSync(join(ctx.rootfs, "etc/passwd"), `${SERVICE_USER}:x:${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}::/nonexistent:/usr/sbin/nologin\n`);
    const dir = join(ctx.rootfs, DATA_DIR.slice(1), "models");
    mkdirSync(dir, { recursive: true });
    const r = await modelsStep.run(ctx, configured);
    expect(r).toEqual({ models: [{ file: "sovereign-tiny-f32.gguf", sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: statSync(testLlamaModel("tiny")).size }] });
    expect(statSync(join(dir, "manifest.json")).mode & 0o777).toBe(0o600);

    // What the node does with it: the registry lists it as an llm, "auto" picks it, and its sha256 verifies.
    const registry = new ModelRegistry(dir);
    expect(registry.list()).toEqual([expect.objectContaining({ name: "sovereign-tiny-f32", kind: "llm", format: "gguf", architecture: "llama", source: "image build" })]);
    expect(await registry.verify()).toEqual([{ name: "sovereign-tiny-f32", ok: true }]);
    expect(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"))).toMatchObject({ version: 1, defaultModel: null });
  });

  it("refuses at build time a model the node would refuse: not a GGUF, or a name the registry rejects", async () => {
    const bad = join(tmp, "text.gguf");
    writeFileSync(bad, "this is text, not a model, and it is long enough");
    const ctx = (models: string[]) => createContext({ board: "x86_64", out: join(tmp, "out2"), models, mirror: "http://deb.debian.org/debian", cache: join(tmp, "cache"), compress: "zstd", repoRoot: tmp, dryRun: true });
    const codeOf = (p: Promise<unknown>) => p.then(() => "resolved", (e: unknown) => (e instanceof SovereignError ? `${e.code}: ${e.message}` : String(e)));
    expect(await codeOf(modelsStep.run(ctx([bad]), configured))).toMatch(/^IMAGE_MODEL_INVALID: .*text\.gguf is not a valid GGUF model/);
    const badName = join(tmp, "my model!.gguf");
    writeFileSync(badName, readFileSync(testLlamaModel("tiny")));
    expect(await codeOf(modelsStep.run(ctx([badName]), configured))).toMatch(/^IMAGE_MODEL_INVALID: .*"my model!" is not a valid model name/);
  });
});
