import type BetterSqlite3 from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { randomToken, sha256 } from "./secrets.js";
import type { Role } from "./scopes.js";

export interface SessionLimits {
  idleMs: number;
  maxMs: number;
}

export interface SessionInfo {
  id: string;
  userId: string;
  username: string;
  role: Role;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

/** Why a presented session cookie did not authenticate: the caller is told "expired" either way. */
export type SessionLookup = { ok: true; session: SessionInfo } | { ok: false; reason: "unknown" | "revoked" | "idle" | "expired" | "user-disabled" };

interface Row {
  id: string;
  user_id: string;
  username: string;
  role: Role;
  disabled: number;
  csrf_token: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  revoked_at: number | null;
}

/** Touching last_seen_at on every request would write on every request; once a minute is enough. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Server-side sessions. The cookie holds a 256-bit secret; the table holds only
 * its SHA-256, so a copied database cannot be replayed as a cookie.
 */
export class SessionStore {
  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly limits: SessionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  create(userId: string, meta: { ip?: string; userAgent?: string } = {}): { secret: string; session: SessionInfo } {
    const secret = randomToken(32);
    const id = randomUUID();
    const t = this.now();
    this.db
      .prepare(
        "INSERT INTO auth_sessions (id, secret_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(id, sha256(secret), userId, randomToken(24), t, t, t + this.limits.maxMs, meta.ip ?? null, meta.userAgent?.slice(0, 200) ?? null);
    const found = this.lookup(secret);
    if (!found.ok) throw new Error("a session just created was not found");
    return { secret, session: found.session };
  }

  /** Resolves a cookie secret, enforcing revocation, idle and absolute expiry, and a disabled owner. */
  lookup(secret: string): SessionLookup {
    const r = this.db
      .prepare(
        `SELECT s.id, s.user_id, u.username, u.role, u.disabled, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, s.revoked_at
         FROM auth_sessions s JOIN auth_users u ON u.id = s.user_id WHERE s.secret_hash = ?`,
      )
      .get(sha256(secret)) as Row | undefined;
    if (!r) return { ok: false, reason: "unknown" };
    const t = this.now();
    if (r.revoked_at !== null) return { ok: false, reason: "revoked" };
    if (r.disabled === 1) return { ok: false, reason: "user-disabled" };
    if (t >= r.expires_at) return { ok: false, reason: "expired" };
    if (t - r.last_seen_at >= this.limits.idleMs) return { ok: false, reason: "idle" };
    if (t - r.last_seen_at >= TOUCH_EVERY_MS) this.db.prepare("UPDATE auth_sessions SET last_seen_at = ? WHERE id = ?").run(t, r.id);
    return {
      ok: true,
      session: {
        id: r.id,
        userId: r.user_id,
        username: r.username,
        role: r.role,
        csrfToken: r.csrf_token,
        createdAt: r.created_at,
        lastSeenAt: r.last_seen_at,
        expiresAt: r.expires_at,
      },
    };
  }

  revoke(id: string): void {
    this.db.prepare("UPDATE auth_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(this.now(), id);
  }

  /** Ends every session of a user (password reset, disable, role change), optionally keeping one. */
  revokeAllOf(userId: string, exceptId?: string): number {
    return this.db
      .prepare("UPDATE auth_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id != ?")
      .run(this.now(), userId, exceptId ?? "").changes;
  }

  /** Deletes sessions long past any use, so the table does not grow forever. */
  prune(): void {
    const t = this.now();
    this.db.prepare("DELETE FROM auth_sessions WHERE expires_at < ? OR (revoked_at IS NOT NULL AND revoked_at < ?)").run(t - 86_400_000, t - 86_400_000);
  }
}
