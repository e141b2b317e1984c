import { readFileSync } from "node:fs";
import type { Config } from "../../core/config/Config.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { packageVersion } from "../../core/packageVersion.js";
import { UpdateService, type UpdateAuditEvent, type UpdateServiceOptions } from "./UpdateService.js";
import type { DataRollbackNote } from "./UpdateState.js";
import "./settings.js";

/** The slots' own boot partitions (Raspberry Pi A/B): both or neither, since a bundle may go to either slot. */
function bootSlotsOf(config: Config): UpdateServiceOptions["bootSlots"] {
  const a = config["update.bootSlotA"];
  const b = config["update.bootSlotB"];
  if (a && b) return { a, b };
  if (!a && !b) return undefined;
  const set = a ? "update.bootSlotA" : "update.bootSlotB";
  const missing = a ? "update.bootSlotB" : "update.bootSlotA";
  throw new SovereignError("CONFIG_INVALID", `${set} is set but ${missing} is not: each slot needs its own boot partition, or neither has one.`, {
    details: { key: missing },
    hint: `Set ${missing} to the other slot's boot partition, or unset ${set} to write boot parts as files under update.bootDir.`,
  });
}

/** The update service for a resolved config: the same in the node and in the CLI. */
export function updateServiceFromConfig(config: Config, audit: (e: UpdateAuditEvent) => void, dataNote?: () => DataRollbackNote | null): UpdateService {
  const bootSlots = bootSlotsOf(config);
  return new UpdateService({
    dataDir: config["paths.dataDir"],
    board: config["node.board"],
    runningVersion: packageVersion(),
    trustedKeys: config["update.trustedKeys"],
    slots: { a: config["update.slotA"], b: config["update.slotB"] },
    ...(bootSlots ? { bootSlots } : {}),
    bootDir: config["update.bootDir"],
    bootMethod: config["update.bootMethod"],
    bootTries: config["update.bootTries"],
    cmdline: () => readFileSync(config["update.bootedSlotSource"], "utf8"),
    bootId: () => readFileSync("/proc/sys/kernel/random/boot_id", "utf8"),
    ...(config["update.rebootCommand"].length > 0 ? { rebootCommand: config["update.rebootCommand"] } : {}),
    audit,
    ...(dataNote ? { dataNote } : {}),
  });
}
