import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRuntime } from "../../image/lib/buildRuntime.js";

// A tiny checkout compiled by the real tsc (the repo's own, through a node_modules link).
describe("the image's runtime build", () => {
  let repo: string;
  const out = () => join(repo, "out");
  const write = (path: string, text: string) => {
    mkdirSync(join(repo, path, ".."), { recursive: true });
    writeFileSync(join(repo, path), text);
  };

  beforeAll(() => {
    repo = mkdtempSync(join(tmpdir(), "sovereign-runtime-build-"));
    symlinkSync(join(process.cwd(), "node_modules"), join(repo, "node_modules"));
    const compilerOptions = { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, rootDir: ".", types: [] };
    write("tsconfig.build.json", JSON.stringify({ compilerOptions, include: ["appliance"] }));
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it("refuses a tree that does not type-check, and emits nothing", async () => {
    write("appliance/cli/main.ts", `export const port: number = "8080";\n`);
    await expect(buildRuntime(repo, out())).rejects.toMatchObject({ code: "IMAGE_COMMAND_FAILED", message: expect.stringMatching(/does not type-check[\s\S]*TS2322/) });
    expect(existsSync(join(out(), "appliance/cli/main.js"))).toBe(false);
  });

  it("compiles a clean tree into a fresh directory", async () => {
    write("appliance/cli/main.ts", `export const port: number = 8080;\n`);
    mkdirSync(join(out(), "services/inference/testModels"), { recursive: true });
    await buildRuntime(repo, out());
    expect(existsSync(join(out(), "appliance/cli/main.js"))).toBe(true);
    // Output of sources deleted since an earlier build is gone.
    expect(existsSync(join(out(), "services"))).toBe(false);
  });

  it("refuses runtime code that imports test code (the test-model generators never ship)", async () => {
    write("test/models/gen.ts", `export const gen = (): number => 1;\n`);
    write("appliance/cli/main.ts", `import { gen } from "../../test/models/gen.js";\nexport const port: number = gen();\n`);
    await expect(buildRuntime(repo, out())).rejects.toMatchObject({ code: "IMAGE_COMMAND_FAILED", message: expect.stringMatching(/imports from test\//) });
  });
});
