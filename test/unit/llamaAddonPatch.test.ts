/**
 * scripts/patches/node-llama-cpp-threadpool.patch must apply to the addon
 * sources of the node-llama-cpp that is installed: an upgrade that moves the
 * lines it touches fails here, not in the middle of an addon build (issue 19).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

describe("the node-llama-cpp thread-pool patch", () => {
  it("applies cleanly to the installed addon sources and attaches a non-polling pool", () => {
    const dir = mkdtempSync(join(tmpdir(), "sovereign-addon-patch-"));
    try {
      cpSync(join(root, "node_modules", "node-llama-cpp", "llama", "addon"), join(dir, "addon"), { recursive: true });
      const r = spawnSync("patch", ["-p0", "-d", dir, "--forward", "--no-backup-if-mismatch", "-i", join(root, "scripts", "patches", "node-llama-cpp-threadpool.patch")], { encoding: "utf8" });
      expect(r.stderr + r.stdout).not.toMatch(/FAILED|fuzz|reject/i);
      expect(r.status).toBe(0);
      const cpp = readFileSync(join(dir, "addon", "AddonContext.cpp"), "utf8");
      expect(cpp).toContain("llama_attach_threadpool(ctx, created, nullptr)");
      expect(cpp).toMatch(/params\.poll = 0;/);
      expect(cpp).toMatch(/ensureThreadpool\(resolvedThreads\);\n\s+if \(llama_n_threads\(ctx\) != resolvedThreads\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
