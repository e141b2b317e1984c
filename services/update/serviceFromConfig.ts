import { readFileSync } from "node:fs";
import type { Config } from "../../core/config/Config.js";
import { packageVersion } from "../../core/packageVersion.js";
import { UpdateService, type UpdateAuditEvent } from "./UpdateService.js";
import type { DataRollbackNote } from "./UpdateState.js";
import "./settings.js";

/** The update service for a resolved config: the same in the node and in the CLI. */
export function updateServiceFromConfig(config: Config, audit: (e: UpdateAuditEvent) => void, dataNote?: () => DataRollbackNote | null): UpdateService {
  return new UpdateService({
    dataDir: config["paths.dataDir"],
    board: config["node.board"],
    runningVersion: packageVersion(),
    trustedKeys: config["update.trustedKeys"],
    slots: { a: config["update.slotA"], b: config["update.slotB"] },
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
