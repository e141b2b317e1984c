import type BetterSqlite3 from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { generateApiKey, sha256 } from "./secrets.js";
import { isScope, type Role, type Scope } from "./scopes.js";

export interface ApiKey {
  id: string;
  userId: string;
  name: string;
  /** The first characters of the key, enough to recognise it in a list. */
  prefix: string;
  scopes: Scope[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  tokensPerHour: number | null;
  tokensPerDay: number | null;
}

interface Row {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  scopes: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  tokens_per_hour: number | null;
  tokens_per_day: number | null;
}

function toKey(r: Row): ApiKey {
  const parsed: unknown = JSON.parse(r.scopes);
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    prefix: r.prefix,
    scopes: Array.isArray(parsed) ? parsed.filter(isScope) : [],
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
    tokensPerHour: r.tokens_per_hour,
    tokensPerDay: r.tokens_per_day,
  };
}

export type KeyLookup =
  | { ok: true; key: ApiKey; owner: { username: string; role: Role } }
  | { ok: false; reason: "unknown" | "revoked" | "expired" | "user-disabled" };

const TOUCH_EVERY_MS = 60_000;

/** API keys: the secret is shown once at creation; only its SHA-256 is stored. */
export class ApiKeyStore {
  constructor(private readonly db: BetterSqlite3.Database, private readonly now: () => number = Date.now) {}

  create(input: { userId: string; name: string; scopes: Scope[]; expiresAt: number | null; tokensPerHour?: number | null; tokensPerDay?: number | null }): { secret: string; key: ApiKey } {
    const secret = generateApiKey();
    const id = randomUUID();
    this.db
      .prepare(
        "INSERT INTO auth_api_keys (id, user_id, name, prefix, key_hash, scopes, created_at, expires_at, tokens_per_hour, tokens_per_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(id, input.userId, input.name, secret.slice(0, 12), sha256(secret), JSON.stringify([...new Set(input.scopes)]), this.now(), input.expiresAt, input.tokensPerHour ?? null, input.tokensPerDay ?? null);
    return { secret, key: this.get(id)! };
  }

  get(id: string): ApiKey | undefined {
    const r = this.db.prepare("SELECT * FROM auth_api_keys WHERE id = ?").get(id) as Row | undefined;
    return r && toKey(r);
  }

  list(userId?: string): ApiKey[] {
    const rows = userId
      ? (this.db.prepare("SELECT * FROM auth_api_keys WHERE user_id = ? ORDER BY created_at").all(userId) as Row[])
      : (this.db.prepare("SELECT * FROM auth_api_keys ORDER BY created_at").all() as Row[]);
    return rows.map(toKey);
  }

  lookup(secret: string): KeyLookup {
    const r = this.db
      .prepare("SELECT k.*, u.username, u.role, u.disabled FROM auth_api_keys k JOIN auth_users u ON u.id = k.user_id WHERE k.key_hash = ?")
      .get(sha256(secret)) as (Row & { username: string; role: Role; disabled: number }) | undefined;
    if (!r) return { ok: false, reason: "unknown" };
    const t = this.now();
    if (r.revoked_at !== null) return { ok: false, reason: "revoked" };
    if (r.expires_at !== null && t >= r.expires_at) return { ok: false, reason: "expired" };
    if (r.disabled === 1) return { ok: false, reason: "user-disabled" };
    if (r.last_used_at === null || t - r.last_used_at >= TOUCH_EVERY_MS) {
      this.db.prepare("UPDATE auth_api_keys SET last_used_at = ? WHERE id = ?").run(t, r.id);
      r.last_used_at = t;
    }
    return { ok: true, key: toKey(r), owner: { username: r.username, role: r.role } };
  }

  revoke(id: string): ApiKey {
    const r = this.db.prepare("UPDATE auth_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(this.now(), id);
    const key = this.get(id);
    if (!key || (r.changes === 0 && key.revokedAt === null)) throw new SovereignError("API_KEY_NOT_FOUND");
    return key;
  }

  revokeAllOf(userId: string): number {
    return this.db.prepare("UPDATE auth_api_keys SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL").run(this.now(), userId).changes;
  }

  setQuota(id: string, tokensPerHour: number | null, tokensPerDay: number | null): ApiKey {
    const r = this.db.prepare("UPDATE auth_api_keys SET tokens_per_hour = ?, tokens_per_day = ? WHERE id = ?").run(tokensPerHour, tokensPerDay, id);
    if (r.changes === 0) throw new SovereignError("API_KEY_NOT_FOUND");
    return this.get(id)!;
  }
}
