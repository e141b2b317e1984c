import type { Command } from "commander";
import { registerJobsCommand } from "./jobs.js";
import { registerRestoreCommand } from "./restore.js";
import { registerBackupCommand } from "./backup.js";
import { registerMemoryCommand } from "./memory.js";
import { registerSetupCodeCommand, registerUserCommand } from "./user.js";
import { registerAuditCommand } from "./audit.js";
import { registerConfigCommand } from "./config.js";
import { registerHardwareCommand } from "./hardware.js";
import { registerImageCommand } from "./image.js";
import { registerServeCommand } from "./serve.js";
import { registerModelCommand } from "./model.js";
import { registerPeerCommand } from "./peer.js";

/** Each command module adds itself to the program; one line per module. */
export const commandModules: Array<(program: Command) => void> = [
  registerServeCommand,
  registerConfigCommand,
  registerHardwareCommand,
  registerImageCommand,
  registerAuditCommand,
  registerUserCommand,
  registerSetupCodeCommand,
  registerModelCommand,
  registerMemoryCommand,
  registerBackupCommand,
  registerRestoreCommand,
  registerJobsCommand,
  registerPeerCommand,
];
