import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

// The boundary rule lives in eslint.config.js; these plant upward imports and expect lint to refuse them.
const planted: Array<{ file: string; imports: string; allowed: boolean }> = [
  { file: "services/memory/planted.ts", imports: "../../appliance/config/settings.js", allowed: false },
  { file: "services/memory/planted.ts", imports: "../../image/boards/registry.js", allowed: false },
  { file: "core/planted.ts", imports: "../services/memory/MemoryStore.js", allowed: false },
  { file: "core/planted.ts", imports: "../hardware/tune.js", allowed: false },
  { file: "hardware/planted.ts", imports: "../services/db/Database.js", allowed: false },
  { file: "image/steps/planted.ts", imports: "../../appliance/cli/main.js", allowed: false },
  { file: "services/memory/planted.ts", imports: "../../core/errors/SovereignError.js", allowed: true },
  { file: "services/memory/planted.ts", imports: "../../hardware/tune.js", allowed: true },
  { file: "appliance/planted.ts", imports: "../services/memory/MemoryStore.js", allowed: true },
];

describe("layer boundaries", () => {
  const eslint = new ESLint({ cwd: process.cwd() });
  it.each(planted)("$file importing $imports: allowed=$allowed", async ({ file, imports, allowed }) => {
    const [result] = await eslint.lintText(`import { x } from "${imports}";\nexport const y = x;\n`, { filePath: file });
    const boundary = (result?.messages ?? []).filter((m) => m.ruleId === "no-restricted-imports");
    expect(boundary.length).toBe(allowed ? 0 : 1);
    if (!allowed) expect(boundary[0]?.message).toMatch(/must not import/);
  });
});
