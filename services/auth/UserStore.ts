import type BetterSqlite3 from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { Role } from "./scopes.js";

export interface User {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  tokensPerHour: number | null;
  tokensPerDay: number | null;
  createdAt: number;
  updatedAt: number;
  passwordChangedAt: number;
}

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  role: Role;
  disabled: number;
  tokens_per_hour: number | null;
  tokens_per_day: number | null;
  created_at: number;
  updated_at: number;
  password_changed_at: number;
}

export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,31}$/i;

function toUser(r: UserRow): User {
  return {
    id: r.id,
    username: r.username,
    role: r.role,
    disabled: r.disabled === 1,
    tokensPerHour: r.tokens_per_hour,
    tokensPerDay: r.tokens_per_day,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    passwordChangedAt: r.password_changed_at,
  };
}

/**
 * Users and the claimed flag. The flag is set once, in the same transaction
 * that creates the first admin, and never cleared: setup closes for good.
 */
export class UserStore {
  // Prepared on first use, once (other services call these on every request).
  private idOfStmt: BetterSqlite3.Statement | undefined;
  private ownerStmt: BetterSqlite3.Statement | undefined;
  private anyStmt: BetterSqlite3.Statement | undefined;

  constructor(private readonly db: BetterSqlite3.Database, private readonly now: () => number = Date.now) {}

  isClaimed(): boolean {
    return this.db.prepare("SELECT 1 FROM auth_state WHERE key = 'claimedAt'").get() !== undefined;
  }

  /**
   * Creates the first admin and closes setup, atomically: of two concurrent
   * claims exactly one inserts; the other finds the flag set and gets SETUP_CLOSED.
   */
  claim(username: string, passwordHash: string): User {
    return this.db
      .transaction(() => {
        if (this.isClaimed()) throw new SovereignError("SETUP_CLOSED");
        const user = this.insert(username, passwordHash, "admin");
        this.db.prepare("INSERT INTO auth_state (key, value) VALUES ('claimedAt', ?)").run(String(this.now()));
        return user;
      })
      .immediate();
  }

  /** Creates a user. An admin created at the console before any claim also closes setup. */
  create(username: string, passwordHash: string, role: Role): User {
    return this.db
      .transaction(() => {
        const user = this.insert(username, passwordHash, role);
        if (role === "admin" && !this.isClaimed()) {
          this.db.prepare("INSERT INTO auth_state (key, value) VALUES ('claimedAt', ?)").run(String(this.now()));
        }
        return user;
      })
      .immediate();
  }

  private insert(username: string, passwordHash: string, role: Role): User {
    if (!USERNAME_PATTERN.test(username)) {
      throw new SovereignError("BAD_REQUEST", "A user name is 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit.");
    }
    if (this.byName(username)) throw new SovereignError("USER_EXISTS", `A user named "${username}" already exists.`);
    const t = this.now();
    const id = randomUUID();
    this.db
      .prepare("INSERT INTO auth_users (id, username, password_hash, role, created_at, updated_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
      .run(id, username, passwordHash, role, t, t, t);
    return this.get(id)!;
  }

  get(id: string): User | undefined {
    const r = this.db.prepare("SELECT * FROM auth_users WHERE id = ?").get(id) as UserRow | undefined;
    return r && toUser(r);
  }

  byName(username: string): User | undefined {
    const r = this.db.prepare("SELECT * FROM auth_users WHERE username = ?").get(username) as UserRow | undefined;
    return r && toUser(r);
  }

  /** The stored hash, for login only. */
  passwordHashOf(id: string): string | undefined {
    const r = this.db.prepare("SELECT password_hash FROM auth_users WHERE id = ?").get(id) as { password_hash: string } | undefined;
    return r?.password_hash;
  }

  list(): User[] {
    return (this.db.prepare("SELECT * FROM auth_users ORDER BY username").all() as UserRow[]).map(toUser);
  }

  /** The id of the user that a user id or a user name names (how other services look users up). */
  idOf(nameOrId: string): string | undefined {
    this.idOfStmt ??= this.db.prepare("SELECT id FROM auth_users WHERE id = ? OR username = ?");
    return (this.idOfStmt.get(nameOrId, nameOrId) as { id: string } | undefined)?.id;
  }

  /** The node's owner: its first admin (none before the node is claimed). */
  owner(): User | undefined {
    this.ownerStmt ??= this.db.prepare("SELECT * FROM auth_users WHERE role = 'admin' ORDER BY created_at LIMIT 1");
    const r = this.ownerStmt.get() as UserRow | undefined;
    return r && toUser(r);
  }

  /** Whether any user account exists. */
  any(): boolean {
    this.anyStmt ??= this.db.prepare("SELECT 1 FROM auth_users LIMIT 1");
    return this.anyStmt.get() !== undefined;
  }

  setPassword(id: string, passwordHash: string): void {
    const t = this.now();
    const r = this.db.prepare("UPDATE auth_users SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE id = ?").run(passwordHash, t, t, id);
    if (r.changes === 0) throw new SovereignError("USER_NOT_FOUND");
  }

  /** Changes role, disabled flag or quotas; refuses to leave the node without an enabled admin. */
  update(id: string, changes: { role?: Role; disabled?: boolean; tokensPerHour?: number | null; tokensPerDay?: number | null }): User {
    return this.db
      .transaction(() => {
        const user = this.get(id);
        if (!user) throw new SovereignError("USER_NOT_FOUND");
        const role = changes.role ?? user.role;
        const disabled = changes.disabled ?? user.disabled;
        if (user.role === "admin" && !user.disabled && (role !== "admin" || disabled)) this.assertAnotherAdmin(id);
        const tph = changes.tokensPerHour === undefined ? user.tokensPerHour : changes.tokensPerHour;
        const tpd = changes.tokensPerDay === undefined ? user.tokensPerDay : changes.tokensPerDay;
        this.db
          .prepare("UPDATE auth_users SET role = ?, disabled = ?, tokens_per_hour = ?, tokens_per_day = ?, updated_at = ? WHERE id = ?")
          .run(role, disabled ? 1 : 0, tph, tpd, this.now(), id);
        return this.get(id)!;
      })
      .immediate();
  }

  /** Deletes a user with their sessions and keys (cascade). */
  delete(id: string): User {
    return this.db
      .transaction(() => {
        const user = this.get(id);
        if (!user) throw new SovereignError("USER_NOT_FOUND");
        if (user.role === "admin" && !user.disabled) this.assertAnotherAdmin(id);
        this.db.prepare("DELETE FROM auth_users WHERE id = ?").run(id);
        return user;
      })
      .immediate();
  }

  private assertAnotherAdmin(exceptId: string): void {
    const r = this.db.prepare("SELECT COUNT(*) AS n FROM auth_users WHERE role = 'admin' AND disabled = 0 AND id != ?").get(exceptId) as { n: number };
    if (r.n === 0) throw new SovereignError("LAST_ADMIN");
  }
}
