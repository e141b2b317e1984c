import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { validate as validCron } from "node-cron";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { writePrivateJson } from "../../core/fs/writePrivateFile.js";
import { corsOriginProblem } from "../../core/http/corsOrigin.js";

/**
 * The settings an admin may change in the panel: the safe ones, which cannot
 * lock the data away or weaken the node (no paths, secrets or limits). The
 * panel writes them to <dataDir>/settings.json, a layer above the config file
 * and below env and flags (appliance/config/resolveConfig.ts).
 */
export interface EditableSetting {
  key: string;
  /** The heading it is shown under on the Settings page. */
  group: string;
  /** Applied to the running node at once; otherwise it takes effect after a restart. */
  live?: boolean;
  /** A check beyond the setting's own parser: a message when the value is refused. */
  check?: (value: unknown) => string | null;
}

const hostCheck = (v: unknown) =>
  typeof v === "string" && (isIP(v) !== 0 || /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/.test(v))
    ? null
    : "an IP address (0.0.0.0 for every network, 127.0.0.1 for this machine only) or a host name";
const corsCheck = (v: unknown) => (Array.isArray(v) ? v.map((o) => corsOriginProblem(String(o))).find((p) => p !== null) ?? null : "a list of origins");
const cronCheck = (v: unknown) => (v === null || (typeof v === "string" && validCron(v)) ? null : "a cron schedule such as \"30 3 * * *\" (minute hour day month weekday), or auto");

export const editableSettings: readonly EditableSetting[] = [
  { key: "server.host", group: "Network", check: hostCheck },
  { key: "node.name", group: "Network" },
  { key: "server.corsOrigins", group: "Network", check: corsCheck },
  { key: "federation.enabled", group: "Federation" },
  { key: "federation.broker.mode", group: "Federation" },
  { key: "federation.broker.url", group: "Federation" },
  { key: "federation.broker.port", group: "Federation" },
  { key: "federation.discovery", group: "Federation" },
  { key: "federation.offload.enabled", group: "Federation" },
  { key: "federation.backupMirror", group: "Federation" },
  { key: "auth.quotaTokensPerHour", group: "Users and quotas" },
  { key: "auth.quotaTokensPerDay", group: "Users and quotas" },
  { key: "log.level", group: "Logging", live: true },
  { key: "scheduler.enabled", group: "Jobs" },
  { key: "scheduler.idleMinutes", group: "Jobs" },
  { key: "memory.summarizeSchedule", group: "Jobs", check: cronCheck },
  { key: "memory.backupSchedule", group: "Jobs", check: cronCheck },
  { key: "memory.backupKeep", group: "Jobs" },
];

export const editableByKey: ReadonlyMap<string, EditableSetting> = new Map(editableSettings.map((e) => [e.key, e]));

/** The file the panel writes: in the data directory, which is writable on every node (the image's /etc is not). */
export function panelSettingsPath(dataDir: string): string {
  return join(dataDir, "settings.json");
}

/** The parsed file, or undefined when there is none. */
export function readPanelSettings(path: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw new SovereignError("CONFIG_FILE_UNREADABLE", `Cannot read ${path}: ${code ?? String(err)}.`, { hint: "Check the file's permissions." });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SovereignError("CONFIG_FILE_UNREADABLE", `${path} is not valid JSON: ${(err as Error).message}.`, {
      hint: "The panel writes this file; fix or delete it, and change the settings again in the panel.",
    });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new SovereignError("CONFIG_INVALID", `${path} must hold a JSON object of settings.`);
  }
  return parsed as Record<string, unknown>;
}

/** {"a":{"b":1}} → [["a.b", 1]]: the panel file's keys, as setting keys. */
export function flattenSettings(obj: Record<string, unknown>, prefix = ""): Array<[string, unknown]> {
  return Object.entries(obj).flatMap(([k, v]): Array<[string, unknown]> => {
    const key = prefix ? `${prefix}.${k}` : k;
    return v !== null && typeof v === "object" && !Array.isArray(v) ? flattenSettings(v as Record<string, unknown>, key) : [[key, v]];
  });
}

/**
 * Sets (or, with `undefined`, removes) one key in the panel file and writes
 * it atomically, mode 0600, in the config file's nested shape.
 */
export function writePanelSetting(path: string, key: string, value: unknown): void {
  const flat = new Map(flattenSettings(readPanelSettings(path) ?? {}));
  if (value === undefined) flat.delete(key);
  else flat.set(key, value);
  const nested: Record<string, unknown> = {};
  for (const [k, v] of [...flat].sort(([a], [b]) => a.localeCompare(b))) {
    const parts = k.split(".");
    let node = nested;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]!] = v;
  }
  writePrivateJson(path, nested);
}
