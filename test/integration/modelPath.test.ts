import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/testApp.js";
import { genLlamaModel } from "../models/genLlamaModel.js";
import { as, buildAuthTestApp, claim, type Session } from "./authHelpers.js";

/**
 * Issue 16, finding 5: POST /api/models {"path"} opened whatever it was
 * given: a FIFO blocked the whole server, and "missing" and "not GGUF" told
 * apart any readable path on the machine. Now only regular files inside the
 * import directories are taken, opened without blocking, and every other path
 * gets one and the same answer.
 */
describe("adding a model by path: only GGUF files in the import directories, one answer for everything else", () => {
  let t: TestApp;
  let admin: Session;
  let importDir: string;
  let outside: string;
  const writers: ChildProcess[] = [];

  beforeAll(async () => {
    t = await buildAuthTestApp();
    admin = await claim(t.app, t.dataDir);
    importDir = join(t.dataDir, "import");
    mkdirSync(importDir, { recursive: true });
    outside = mkdtempSync(join(tmpdir(), "sovereign-outside-"));
    genLlamaModel(join(importDir, "good.gguf"), { shape: "tiny", name: "good" });
    genLlamaModel(join(outside, "elsewhere.gguf"), { shape: "tiny", name: "elsewhere" });
    writeFileSync(join(importDir, "notes.gguf"), "just some text, not a model at all\n");
    writeFileSync(join(outside, "secret.txt"), "a readable file outside the import directories\n");
    symlinkSync(join(outside, "elsewhere.gguf"), join(importDir, "link-out.gguf"));
    mkdirSync(join(importDir, "adir.gguf"));
    execFileSync("mkfifo", [join(importDir, "pipe.gguf")]);
    // Only so that the old code, which opened the FIFO blocking, gets an answer at all: a writer appears after a while.
    writers.push(spawn("timeout", ["10", "sh", "-c", `sleep 2; printf 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' > '${join(importDir, "pipe.gguf")}'`], { stdio: "ignore" }));
  });
  afterAll(async () => {
    // TERM, which `timeout` passes on to the writer it runs (a KILL would orphan a writer blocked on the FIFO).
    for (const w of writers) w.kill("SIGTERM");
    await t?.close();
    rmSync(outside, { recursive: true, force: true });
  });

  const add = (path: string, name?: string) =>
    t.app.inject({ method: "POST", url: "/api/models", headers: as(admin), payload: { path, ...(name ? { name } : {}) } });

  it("gives one identical answer for missing, not-GGUF, outside, symlinked-out, directory, FIFO and device paths", async () => {
    const cases: Record<string, string> = {
      "missing inside": join(importDir, "nothing-here.gguf"),
      "missing outside": "/nonexistent/dir/model.gguf",
      "not GGUF inside": join(importDir, "notes.gguf"),
      "readable file outside": join(outside, "secret.txt"),
      "a GGUF outside": join(outside, "elsewhere.gguf"),
      "a symlink out of the import dir": join(importDir, "link-out.gguf"),
      "traversal out of the import dir": join(importDir, "..", "..", outside.split("/").pop()!, "elsewhere.gguf"),
      "a directory": join(importDir, "adir.gguf"),
      "a FIFO": join(importDir, "pipe.gguf"),
      "a device": "/dev/zero",
      "a relative path": "good.gguf",
    };
    const answers: Record<string, string> = {};
    for (const [what, path] of Object.entries(cases)) {
      const res = await add(path, "candidate");
      const body = res.json() as { error?: { code: string; message: string; hint?: string } };
      answers[what] = `${res.statusCode} ${JSON.stringify(body.error)}`;
    }
    const distinct = new Set(Object.values(answers));
    expect(distinct.size, JSON.stringify(answers, null, 1)).toBe(1);
    expect([...distinct][0]).toMatch(/^422 .*MODEL_FILE_REFUSED/);
    expect(t.app.inference.registry.has("candidate")).toBe(false);
    expect((await t.app.inject({ url: "/healthz" })).statusCode).toBe(200);
  });

  it("installs a GGUF file that is in the import directory", async () => {
    const res = await add(join(importDir, "good.gguf"));
    expect(res.statusCode, res.body).toBe(201);
    expect((res.json() as { name: string }).name).toBe("good");
    expect(t.app.inference.registry.has("good")).toBe(true);
  });
});
