import type { Command } from "commander";

type Register = (program: Command) => void;

/**
 * The top-level commands and where each is defined; one line per command.
 * Modules load on demand, so `sovereign serve` does not pay for the image
 * builder or the memory CLI at startup.
 */
export const commandTable: ReadonlyArray<{ name: string; load: () => Promise<Register> }> = [
  { name: "serve", load: async () => (await import("./serve.js")).registerServeCommand },
  { name: "config", load: async () => (await import("./config.js")).registerConfigCommand },
  { name: "hardware", load: async () => (await import("./hardware.js")).registerHardwareCommand },
  { name: "image", load: async () => (await import("./image.js")).registerImageCommand },
  { name: "audit", load: async () => (await import("./audit.js")).registerAuditCommand },
  { name: "user", load: async () => (await import("./user.js")).registerUserCommand },
  { name: "setup-code", load: async () => (await import("./user.js")).registerSetupCodeCommand },
  { name: "memory", load: async () => (await import("./memory.js")).registerMemoryCommand },
  { name: "backup", load: async () => (await import("./backup.js")).registerBackupCommand },
  { name: "restore", load: async () => (await import("./restore.js")).registerRestoreCommand },
  { name: "jobs", load: async () => (await import("./jobs.js")).registerJobsCommand },
  { name: "model", load: async () => (await import("./model.js")).registerModelCommand },
  { name: "peer", load: async () => (await import("./peer.js")).registerPeerCommand },
  { name: "node", load: async () => (await import("./node.js")).registerNodeCommand },
  { name: "update", load: async () => (await import("./update.js")).registerUpdateCommand },
];
