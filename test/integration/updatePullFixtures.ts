import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { publicKeyOf } from "../../core/ed25519.js";
import { fastAuth } from "./authHelpers.js";

/** The pull suites' chunk size: small, so a 1.5 MB bundle takes a few dozen Range requests. */
export const PULL_CHUNK = 64 * 1024;

/** A node's slot files (both starting as `init`), ESP and kernel command line under `<dir>/<node>`, booted on slot a. */
export function makePullSlots(dir: string, node: string, init: Buffer): void {
  const d = join(dir, node);
  mkdirSync(join(d, "esp/loader/entries"), { recursive: true });
  for (const s of ["a", "b"]) writeFileSync(join(d, `slot-${s}`), init);
  writeFileSync(join(d, "esp/loader/entries/sovereign-a.conf"), "title a\nversion 1\noptions sovereign.slot=a\n");
  writeFileSync(join(d, "cmdline"), "ro sovereign.slot=a\n");
}

/** The settings that point a node's update service at the files makePullSlots made, trusting `signer`'s bundles. */
export function pullNodeSettings(dir: string, node: string, signer: Uint8Array): Record<string, unknown> {
  const d = join(dir, node);
  return {
    ...fastAuth,
    "node.board": "x86_64",
    "update.trustedKeys": [Buffer.from(publicKeyOf(signer)).toString("hex")],
    "update.slotA": join(d, "slot-a"), "update.slotB": join(d, "slot-b"),
    "update.bootDir": join(d, "esp"), "update.bootMethod": "systemd-boot",
    "update.bootedSlotSource": join(d, "cmdline"),
    "update.rebootCommand": ["true"],
    "update.maxBundleBytes": 64 * 1024 * 1024,
    "update.pullChunkBytes": PULL_CHUNK,
    "federation.clockSkewSeconds": 300,
  };
}

/** Stops a node's pull after its `chunks`th chunk, as a crash or shutdown would; resolves once it is closed. */
export function stopPullAfter(pull: { events: NodeJS.EventEmitter; close(): Promise<void> }, chunks: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const onChunk = (e: { chunks: number }): void => {
      if (e.chunks < chunks) return;
      pull.events.off("chunk", onChunk);
      void pull.close().then(resolve);
    };
    pull.events.on("chunk", onChunk);
  });
}
