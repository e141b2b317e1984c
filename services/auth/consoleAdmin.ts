import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../../core/config/Config.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { Database } from "../db/Database.js";
import { LoginThrottle } from "./LoginThrottle.js";
import { hashPassword, passwordAcceptable } from "./passwords.js";
import { authMigrations } from "./schema.js";
import type { Role } from "./scopes.js";
import { randomToken } from "./secrets.js";
import { SessionStore } from "./SessionStore.js";
import { ensureSetupCode, readSetupCode, removeSetupCode, setupCodePath } from "./setupCodeFile.js";
import { UserStore, type User } from "./UserStore.js";

type ConsoleConfig = Pick<Config, "paths.dataDir" | "auth.scryptLogN" | "auth.setupCodeFile">;

/**
 * What someone at the node's console may do without logging in (the CLI's
 * `sovereign user …` and `sovereign setup-code`): holding the data directory
 * is the proof. It opens the same SQLite file the running node uses (WAL lets both).
 * It does not write audit events: the audit chain belongs to the running node's
 * process, and a second writer could fork it.
 */
export class ConsoleAdmin {
  private readonly db: Database;
  private readonly users: UserStore;

  constructor(private readonly config: ConsoleConfig) {
    mkdirSync(config["paths.dataDir"], { recursive: true, mode: 0o700 });
    this.db = new Database(join(config["paths.dataDir"], "sovereign.db"));
    this.db.migrate("auth", authMigrations);
    this.users = new UserStore(this.db.sqlite);
  }

  list(): User[] {
    return this.users.list();
  }

  /** Creates a user; without a password, a random one is made and returned to show once. */
  async create(username: string, role: Role, password?: string): Promise<{ user: User; generatedPassword?: string }> {
    const pw = password ?? randomToken(15);
    if (!passwordAcceptable(pw)) throw new SovereignError("PASSWORD_WEAK");
    const user = this.users.create(username, await hashPassword(pw, this.config["auth.scryptLogN"]), role);
    if (role === "admin") removeSetupCode(setupCodePath(this.config));
    return password === undefined ? { user, generatedPassword: pw } : { user };
  }

  /** Sets a new password and ends every session of the user. */
  async resetPassword(username: string, password?: string): Promise<{ user: User; generatedPassword?: string; sessionsEnded: number }> {
    const user = this.users.byName(username);
    if (!user) throw new SovereignError("USER_NOT_FOUND", `No user named "${username}".`, { hint: "`sovereign user list` shows the users." });
    const pw = password ?? randomToken(15);
    if (!passwordAcceptable(pw)) throw new SovereignError("PASSWORD_WEAK");
    this.users.setPassword(user.id, await hashPassword(pw, this.config["auth.scryptLogN"]));
    // Session lifetimes do not matter for revocation; any values will do.
    const sessionsEnded = new SessionStore(this.db.sqlite, { idleMs: 1, maxMs: 1 }).revokeAllOf(user.id);
    this.db.sqlite.prepare("DELETE FROM auth_login_throttle WHERE key = ?").run(`user:${user.username.toLowerCase()}`);
    return password === undefined ? { user, generatedPassword: pw, sessionsEnded } : { user, sessionsEnded };
  }

  /** The current setup code (made if missing), or a new one; refused once the node is claimed. */
  setupCode(regenerate: boolean): { code: string; path: string } {
    const path = setupCodePath(this.config);
    if (this.users.isClaimed()) {
      removeSetupCode(path);
      throw new SovereignError("SETUP_CLOSED");
    }
    if (!regenerate && readSetupCode(path) === undefined) regenerate = true;
    const code = ensureSetupCode(path, { regenerate }).code;
    // A new code from the console lifts every setup lockout, as physical-presence recovery does.
    if (regenerate) new LoginThrottle(this.db.sqlite).clearPrefix("setup");
    return { code, path };
  }

  close(): void {
    this.db.close();
  }
}
