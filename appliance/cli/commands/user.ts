import type { Command } from "commander";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { ConsoleAdmin } from "../../../services/auth/consoleAdmin.js";
import { isRole, type Role } from "../../../services/auth/scopes.js";
import { printResult } from "../output.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";

const KEYS = ["paths.dataDir", "auth.scryptLogN", "auth.setupCodeFile"];

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

async function withAdmin<T>(opts: Record<string, unknown>, fn: (a: ConsoleAdmin) => Promise<T> | T): Promise<T> {
  const { config } = configFromFlags(opts);
  const admin = new ConsoleAdmin(config);
  try {
    return await fn(admin);
  } finally {
    admin.close();
  }
}

/** `sovereign user list|create|reset-password`: user management for whoever is at the node's console. */
export function registerUserCommand(program: Command): void {
  const user = program.command("user").description("Manage users from the node's console (no login needed: access to the data directory is the proof).");

  addSettingFlags(user.command("list").description("List users and their roles."), KEYS)
    .option("--json", "machine-readable output")
    .action(async (opts: Record<string, unknown>) => {
      const users = await withAdmin(opts, (a) => a.list());
      const rows = users.map((u) => ({ id: u.id, username: u.username, role: u.role, disabled: u.disabled }));
      printResult(Boolean(opts.json), rows, () =>
        rows.length === 0 ? "(no users yet: claim the node with its setup code)" : rows.map((r) => `${r.username.padEnd(33)} ${r.role.padEnd(6)} ${r.disabled ? "disabled" : ""}`).join("\n"),
      );
    });

  addSettingFlags(user.command("create <username>").description("Create a user. Without --password-stdin a random password is printed once."), KEYS)
    .option("--role <role>", "admin, user or guest", "user")
    .option("--password-stdin", "read the password from standard input")
    .option("--json", "machine-readable output")
    .action(async (username: string, opts: Record<string, unknown>) => {
      const role = opts.role;
      if (!isRole(role)) throw new SovereignError("BAD_REQUEST", `Unknown role "${String(role)}".`, { hint: "Use admin, user or guest." });
      const password = opts.passwordStdin ? await readStdin() : undefined;
      const r = await withAdmin(opts, (a) => a.create(username, role as Role, password));
      printResult(Boolean(opts.json), { id: r.user.id, username: r.user.username, role: r.user.role, ...(r.generatedPassword ? { password: r.generatedPassword } : {}) }, () =>
        [`created ${r.user.role} "${r.user.username}"`, ...(r.generatedPassword ? [`password (shown once): ${r.generatedPassword}`] : [])].join("\n"),
      );
    });

  addSettingFlags(user.command("reset-password <username>").description("Set a new password and end the user's sessions. Without --password-stdin a random one is printed once."), KEYS)
    .option("--password-stdin", "read the password from standard input")
    .option("--json", "machine-readable output")
    .action(async (username: string, opts: Record<string, unknown>) => {
      const password = opts.passwordStdin ? await readStdin() : undefined;
      const r = await withAdmin(opts, (a) => a.resetPassword(username, password));
      printResult(Boolean(opts.json), { username: r.user.username, sessionsEnded: r.sessionsEnded, ...(r.generatedPassword ? { password: r.generatedPassword } : {}) }, () =>
        [`password of "${r.user.username}" reset; ${r.sessionsEnded} session(s) ended`, ...(r.generatedPassword ? [`new password (shown once): ${r.generatedPassword}`] : [])].join("\n"),
      );
    });
}

/** `sovereign setup-code [--regenerate]`: show the one-time setup code again at the console. */
export function registerSetupCodeCommand(program: Command): void {
  addSettingFlags(program.command("setup-code").description("Print the one-time setup code of an unclaimed node (or make a new one with --regenerate)."), KEYS)
    .option("--regenerate", "replace the code with a new one (the old one stops working at once)")
    .option("--json", "machine-readable output")
    .action(async (opts: Record<string, unknown>) => {
      const r = await withAdmin(opts, (a) => a.setupCode(Boolean(opts.regenerate)));
      printResult(Boolean(opts.json), { code: r.code, file: r.path }, () => `setup code: ${r.code}\n(kept in ${r.path}; it stops working once the node is claimed)`);
    });
}
