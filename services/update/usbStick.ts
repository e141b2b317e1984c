import { closeSync, existsSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";
import { compareVersions } from "../../core/compareVersions.js";
import { headerLength, MAX_HEADER_BYTES, parseEnvelope, PREAMBLE_BYTES } from "./bundleFormat.js";
import type { UpdateService } from "./UpdateService.js";

/** The file system label of an update stick: noticed at boot and on hotplug (the image's udev rule), applied by `sovereign update usb`. */
export const STICK_LABEL = "SOVUPDATE";

/** The version a bundle's header claims (unverified: only to choose among files), or null when it has none. */
function claimedVersion(path: string): string | null {
  let fd: number | null = null;
  try {
    fd = openSync(path, "r");
    const pre = Buffer.alloc(PREAMBLE_BYTES);
    readSync(fd, pre, 0, PREAMBLE_BYTES, 0);
    const n = headerLength(pre);
    if (n > MAX_HEADER_BYTES) return null;
    const header = Buffer.alloc(n);
    readSync(fd, header, 0, n, PREAMBLE_BYTES);
    return parseEnvelope(header).manifest.version;
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/**
 * The bundle to apply from a mounted stick: the `*.sovupdate` at its top level
 * that claims the highest version (a file with no readable header still counts,
 * last, so that its refusal is recorded). Null when the stick holds none.
 */
export function pickStickBundle(mountDir: string): string | null {
  if (!existsSync(mountDir)) return null;
  const files = readdirSync(mountDir).filter((f) => f.endsWith(".sovupdate")).sort();
  if (files.length === 0) return null;
  const ranked = files.map((f) => ({ path: join(mountDir, f), version: claimedVersion(join(mountDir, f)) }));
  ranked.sort((a, b) => (a.version === null ? 1 : b.version === null ? -1 : compareVersions(b.version, a.version)));
  return ranked[0]?.path ?? null;
}

export type StickOutcome =
  | { action: "none"; reason: string }
  | { action: "skipped"; bundle: string; version: string; reason: string }
  | { action: "applied"; bundle: string; version: string; slot: string };

/**
 * Applies the stick's bundle once: a stick left in is seen at every boot and
 * hotplug, so a version that is already running, pending or on trial is
 * skipped instead of written again. Refusals throw, as for any apply.
 */
export async function applyFromStick(service: UpdateService, mountDir: string, opts: { allowDowngrade?: boolean; actor?: string | null } = {}): Promise<StickOutcome> {
  const bundle = pickStickBundle(mountDir);
  if (!bundle) return { action: "none", reason: `no *.sovupdate file at the top of ${mountDir}` };
  const version = claimedVersion(bundle);
  if (version !== null) {
    const s = service.status();
    if (version === s.runningVersion) return { action: "skipped", bundle, version, reason: "this version is running" };
    if (s.pending?.version === version) return { action: "skipped", bundle, version, reason: "this version is already written and waiting for a restart" };
    if (s.trial?.version === version) return { action: "skipped", bundle, version, reason: "this version is on trial" };
    if (s.slots.some((x) => x.version === version && x.condition === "bad")) return { action: "skipped", bundle, version, reason: "this version already failed its trial here" };
  }
  const r = await service.apply(bundle, { via: "usb", actor: opts.actor ?? "system", allowDowngrade: Boolean(opts.allowDowngrade) });
  return { action: "applied", bundle, version: r.manifest.version, slot: r.slot };
}
