import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "./config/settings.js";
import { NodeIdentity } from "../services/identity/NodeIdentity.js";
import { ConsoleAdmin } from "../services/auth/consoleAdmin.js";
import { listenUrls } from "../services/auth/setupBanner.js";
import { packageVersion } from "../core/packageVersion.js";

export interface NodeInfo {
  nodeId: string | null;
  fingerprint: string | null;
  version: string;
  urls: string[];
  /** SHA-256 fingerprint of the HTTPS certificate, when the node has made one. */
  certificateFingerprint: string | null;
  claimed: boolean;
  users: number;
  /** The booted system slot (A/B images), from the kernel command line; null elsewhere. */
  updateSlot: string | null;
  health: { reachable: boolean; status: number | null; body: unknown };
}

/** The booted slot from a kernel command line (`sovereign.slot=a`), if any. */
export function slotFromCmdline(cmdline: string): string | null {
  const m = /(?:^|\s)sovereign\.slot=([a-z0-9]+)/i.exec(cmdline);
  return m?.[1]?.toUpperCase() ?? null;
}

export function certificateFingerprint(dataDir: string): string | null {
  const path = join(dataDir, "tls", "server.crt");
  if (!existsSync(path)) return null;
  return new X509Certificate(readFileSync(path)).fingerprint256;
}

async function probeHealth(port: number): Promise<NodeInfo["health"]> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
    return { reachable: true, status: res.status, body: await res.json().catch(() => null) };
  } catch {
    return { reachable: false, status: null, body: null };
  }
}

/** What `sovereign node` shows: read from the data directory and the running node's /healthz. */
export async function gatherNodeInfo(config: Config): Promise<NodeInfo> {
  const dataDir = config["paths.dataDir"];
  const identity = NodeIdentity.load(dataDir);
  const admin = new ConsoleAdmin(config);
  let users = 0;
  try {
    users = admin.list().length;
  } finally {
    admin.close();
  }
  const certificate = certificateFingerprint(dataDir);
  const cmdline = existsSync("/proc/cmdline") ? readFileSync("/proc/cmdline", "utf8") : "";
  return {
    nodeId: identity?.nodeId ?? null,
    fingerprint: identity?.fingerprint ?? null,
    version: packageVersion(),
    urls: certificate ? listenUrls(config["server.host"], config["server.httpsPort"], undefined, "https") : listenUrls(config["server.host"], config["server.port"]),
    certificateFingerprint: certificate,
    claimed: users > 0,
    users,
    updateSlot: slotFromCmdline(cmdline),
    health: await probeHealth(config["server.port"]),
  };
}

export function renderNodeInfo(i: NodeInfo): string {
  const health = i.health.reachable ? `${i.health.status === 200 ? "healthy" : `unhealthy (HTTP ${i.health.status})`}` : "not running (nothing answers on the port)";
  return [
    `node id        ${i.nodeId ?? "(not started yet: made at first start)"}`,
    `fingerprint    ${i.fingerprint ?? "-"}`,
    `version        ${i.version}`,
    `urls           ${i.urls.join("  ")}`,
    `certificate    ${i.certificateFingerprint ?? "(none: serving plain HTTP)"}`,
    `claimed        ${i.claimed ? `yes (${i.users} user${i.users === 1 ? "" : "s"})` : "no: open the panel and enter the setup code"}`,
    `update slot    ${i.updateSlot ?? "-"}`,
    `health         ${health}`,
  ].join("\n");
}
