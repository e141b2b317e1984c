import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { publicKeyOf } from "../../core/ed25519.js";
import { verifyBundleFile } from "../../services/update/bundleReader.js";
import { UpdateService } from "../../services/update/UpdateService.js";
import { requireTools } from "../helpers/requireTool.js";
import { imageCache, repoRoot, requireRoot } from "./imageBuild.js";

const out = join(repoRoot, "test-artifacts", "update-bundle");
const bundlePath = join(out, "x86_64.sovupdate");

/**
 * `sovereign image bundle` for real: the pipeline up to the ext4 root, packed and signed with the
 * build key, then verified and written to a slot file the way a node would, and the written root
 * read with debugfs. SOVEREIGN_IMAGE_E2E_REUSE=1 reuses an existing bundle (for iterating).
 */
describe.runIf(requireRoot() && requireTools("debugfs", "flock"))("image bundle (x86_64, real build up to rootfs-image)", () => {
  it("builds a bundle whose signature, parts and pinned update key a node accepts", async () => {
    mkdirSync(out, { recursive: true });
    if (!(process.env.SOVEREIGN_IMAGE_E2E_REUSE === "1" && existsSync(bundlePath))) {
      const cli = [process.execPath, "--import", "tsx", join(repoRoot, "appliance/cli/main.ts"), "image", "bundle", "--board", "x86_64", "--version", "99.0.0", "--out", bundlePath, "--cache", imageCache, "--json"];
      const r = spawnSync("flock", [join(imageCache, ".e2e-build.lock"), ...cli], { cwd: repoRoot, encoding: "utf8", maxBuffer: 64 << 20 });
      writeFileSync(join(out, "bundle.stderr.log"), r.stderr ?? "");
      if (r.status !== 0) throw new Error(`image bundle failed (exit ${r.status}):\n${(r.stderr ?? "").slice(-4000)}\n${r.stdout ?? ""}`);
      writeFileSync(join(out, "result.json"), r.stdout);
    }
    const buildKey = Buffer.from(publicKeyOf(new Uint8Array(readFileSync(join(imageCache, "build-key.ed25519"))))).toString("hex");
    const policy = { trustedKeys: [buildKey], board: "x86_64", runningVersion: "0.0.1" };
    const v = await verifyBundleFile(bundlePath, policy);
    expect(v.manifest.parts.map((p) => [p.name, p.target])).toEqual([["rootfs.ext4", "root"], ["vmlinuz", "boot"], ["initrd.img", "boot"]]);

    // Applied as a node would, to a slot file, with the boot files in a temp ESP.
    const root = v.manifest.parts[0]!;
    const slot = join(out, "slot-b.img");
    writeFileSync(slot, "");
    execFileSync("truncate", ["-s", String(root.size), slot]);
    writeFileSync(join(out, "cmdline"), "sovereign.slot=a\n");
    const service = new UpdateService({
      dataDir: join(out, "data"), board: "x86_64", runningVersion: "0.0.1", trustedKeys: [buildKey],
      slots: { a: join(out, "slot-a.img"), b: slot }, bootDir: join(out, "esp"), bootMethod: "systemd-boot", bootTries: 3,
      cmdline: () => readFileSync(join(out, "cmdline"), "utf8"), bootId: () => "e2e", audit: () => undefined,
    });
    const applied = await service.apply(bundlePath, { via: "e2e" });
    expect(applied.rootReadback).toBe(root.sha256);
    expect(readFileSync(join(out, "esp/sovereign/b/vmlinuz")).subarray(0, 2).toString("latin1")).toBe("MZ");
    // The new root pins the key that signed it, so the version after it is accepted too.
    const config = execFileSync("debugfs", ["-R", "cat /etc/sovereign/config.json", slot], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    // An A/B root: it also names both slots and the ESP, which the node on it updates next.
    expect(JSON.parse(config)).toMatchObject({ update: { trustedKeys: [buildKey], slotA: "/dev/disk/by-partlabel/sovereign-root-a", slotB: "/dev/disk/by-partlabel/sovereign-root-b", bootDir: "/boot/efi" } });
    // The node's own files are not in a slot: its data dir is an empty mount point for the data partition.
    expect(execFileSync("debugfs", ["-R", "ls -l /etc/sovereign", slot], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })).not.toMatch(/build\.key|recovery\.key/);
  }, 45 * 60_000);
});
