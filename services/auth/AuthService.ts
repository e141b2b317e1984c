import type { FastifyBaseLogger } from "fastify";
import type BetterSqlite3 from "better-sqlite3";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { ApiKeyStore } from "./ApiKeyStore.js";
import { isLoopbackAddress } from "./hostCheck.js";
import { KeyedSemaphore } from "./KeyedSemaphore.js";
import { LoginThrottle, type ThrottlePolicy } from "./LoginThrottle.js";
import { hashPassword, passwordAcceptable, hashCost, verifyPassword } from "./passwords.js";
import type { Principal } from "./principal.js";
import { QuotaLedger, type WindowUsage } from "./QuotaLedger.js";
import { effectiveKeyScopes, roleScopes, type Role } from "./scopes.js";
import { normalizeSetupCode, randomToken, safeEqual } from "./secrets.js";
import { SessionStore, type SessionInfo } from "./SessionStore.js";
import { readSetupCode, removeSetupCode, ensureSetupCode } from "./setupCodeFile.js";
import { UserStore, type User } from "./UserStore.js";

export interface AuthOptions {
  setupCodePath: string;
  scryptLogN: number;
  session: { idleMs: number; maxMs: number };
  throttle: ThrottlePolicy;
  defaultQuota: { tokensPerHour: number; tokensPerDay: number };
  log?: FastifyBaseLogger;
  /** Records security events when the audit service is present. */
  audit?: (event: { type: string; actor?: string | null; subject?: string | null; details?: Record<string, unknown> }) => void;
  now?: () => number;
}

export interface QuotaStatus {
  user: [WindowUsage, WindowUsage];
  key?: [WindowUsage, WindowUsage];
}

/** Meta about the client, for sessions, throttling and the audit trail. */
export interface ClientMeta {
  ip: string;
  userAgent?: string;
}

/**
 * The auth service's API (`app.auth`): setup claim, login, sessions, users,
 * API keys and token quotas. HTTP lives in routes/; this class is all logic.
 */
export class AuthService {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly keys: ApiKeyStore;
  readonly throttle: LoginThrottle;
  readonly ledger: QuotaLedger;
  private claimedCache = false;
  /**
   * Password hashes that may run at once per address (2, up to 16 more waiting)
   * and per account name (1, up to 4 waiting): a burst is hashed in turn, so the
   * throttle sees each outcome before the next attempt, and a flood of 64 MiB
   * scrypt runs cannot pile up. Beyond the queues: 429 at once.
   */
  private readonly sourceSlots = new KeyedSemaphore(2, 16);
  private readonly accountSlots = new KeyedSemaphore(1, 4);
  /** A hash to verify against when the user does not exist, so both cases cost the same. */
  private dummyHash: Promise<string> | undefined;

  constructor(db: BetterSqlite3.Database, readonly options: AuthOptions) {
    const now = options.now ?? Date.now;
    this.users = new UserStore(db, now);
    this.sessions = new SessionStore(db, options.session, now);
    this.keys = new ApiKeyStore(db, now);
    this.throttle = new LoginThrottle(db, now);
    this.ledger = new QuotaLedger(db, now);
  }

  /** Computes the dummy hash ahead of the first login, so the first unknown name costs no more than later ones. */
  warmUp(): void {
    void this.dummy().catch(() => undefined);
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword(randomToken(16), this.options.scryptLogN);
    return this.dummyHash;
  }

  /** True once an admin exists; never false again. */
  isClaimed(): boolean {
    if (!this.claimedCache) this.claimedCache = this.users.isClaimed();
    return this.claimedCache;
  }

  hashPassword(password: string): Promise<string> {
    if (!passwordAcceptable(password)) throw new SovereignError("PASSWORD_WEAK");
    return hashPassword(password, this.options.scryptLogN);
  }

  /**
   * First-run claim: checks the one-time code (read from its file on each try,
   * so `sovereign setup-code --regenerate` takes effect at once), then creates
   * the first admin in a transaction that exactly one concurrent claim wins.
   */
  async claim(code: string, username: string, password: string, client: ClientMeta): Promise<User> {
    if (this.isClaimed()) throw new SovereignError("SETUP_CLOSED");
    const keys = this.setupKeys(client.ip);
    // The code check below is synchronous, so attempts sent at once are counted one by one.
    const lockedMs = this.throttle.lockedFor(keys.map((k) => k.key));
    if (lockedMs > 0) throw lockedError(lockedMs);
    const expected = readSetupCode(this.options.setupCodePath);
    if (expected === undefined || !safeEqual(normalizeSetupCode(code), normalizeSetupCode(expected))) {
      for (const k of keys) this.throttle.fail(k.key, k.policy);
      this.audit({ type: "auth.setup_claim_failed", details: { ip: client.ip } });
      throw new SovereignError("SETUP_CODE_INVALID");
    }
    const hash = await this.hashPassword(password);
    const user = this.users.claim(username, hash);
    this.claimedCache = true;
    this.throttle.clearPrefix("setup");
    removeSetupCode(this.options.setupCodePath);
    this.audit({ type: "auth.setup_claimed", actor: user.id, subject: user.id, details: { username: user.username, ip: client.ip } });
    return user;
  }

  /**
   * A new setup code for an unclaimed node (console or physical-presence
   * recovery): the old code stops working and setup lockouts are lifted, so
   * whoever holds the device can claim it at once.
   */
  regenerateSetupCode(): string {
    if (this.isClaimed()) throw new SovereignError("SETUP_CLOSED");
    const { code } = ensureSetupCode(this.options.setupCodePath, { regenerate: true });
    this.throttle.clearPrefix("setup");
    return code;
  }

  /**
   * Setup-code failures lock the address that sent them, so a neighbour on the
   * LAN cannot lock the owner out; a ceiling over all addresses (twenty times
   * as many) stops a spray from many. The node's own console (loopback) is
   * never held by the ceiling, and a new code (console, or physical-presence
   * recovery) lifts every setup lock.
   */
  private setupKeys(ip: string): Array<{ key: string; policy: ThrottlePolicy }> {
    const policy = this.options.throttle;
    const keys = [{ key: `setup:ip:${ip}`, policy }];
    if (!isLoopbackAddress(ip)) keys.push({ key: "setup:all", policy: { ...policy, maxFailures: policy.maxFailures * 20 } });
    return keys;
  }

  /**
   * Password login. Unknown user, wrong password and disabled user give the
   * same error after the same work (a hash is always verified). Failures lock
   * the name (and, more slowly, the address) with exponential backoff.
   */
  async login(username: string, password: string, client: ClientMeta): Promise<{ user: User; secret: string; session: SessionInfo }> {
    const nameKey = `user:${username.toLowerCase().slice(0, 64)}`;
    const ipKey = `ip:${client.ip}`;
    const locked = (ms: number) => {
      this.audit({ type: "auth.login_locked", details: { username: username.slice(0, 64), ip: client.ip } });
      return lockedError(ms);
    };
    // Refused at once while locked, before waiting for a hashing slot.
    const lockedMs = this.throttle.lockedFor([nameKey, ipKey]);
    if (lockedMs > 0) throw locked(lockedMs);
    const releaseSource = await this.sourceSlots.acquire(ipKey);
    try {
      const releaseAccount = await this.accountSlots.acquire(nameKey);
      try {
        // The attempt is reserved before the hash and settled after it: the lock is decided before the work, never after.
        const reserved = this.throttle.reserve([
          { key: nameKey, policy: this.options.throttle },
          { key: ipKey, policy: { ...this.options.throttle, maxFailures: this.options.throttle.maxFailures * 10 } },
        ]);
        if ("waitMs" in reserved) throw locked(reserved.waitMs);
        try {
          return await this.checkPassword(username, password, client, nameKey, ipKey);
        } finally {
          reserved.release();
        }
      } finally {
        releaseAccount();
      }
    } finally {
      releaseSource();
    }
  }

  private async checkPassword(username: string, password: string, client: ClientMeta, nameKey: string, ipKey: string): Promise<{ user: User; secret: string; session: SessionInfo }> {
    const user = this.users.byName(username);
    const stored = user ? this.users.passwordHashOf(user.id) : undefined;
    const ok = await verifyPassword(password.slice(0, 1024), stored ?? (await this.dummy()));
    if (!user || !ok || user.disabled) {
      const lockMs = this.throttle.fail(nameKey, this.options.throttle);
      this.throttle.fail(ipKey, { ...this.options.throttle, maxFailures: this.options.throttle.maxFailures * 10 });
      this.audit({ type: "auth.login_failed", subject: user?.id ?? null, details: { username: username.slice(0, 64), ip: client.ip, lockedSeconds: Math.ceil(lockMs / 1000) } });
      throw new SovereignError("LOGIN_FAILED");
    }
    this.throttle.clear(nameKey);
    // Rehash an old, cheaper hash now that the password is at hand.
    if (stored && hashCost(stored) !== this.options.scryptLogN) this.users.setPassword(user.id, await hashPassword(password, this.options.scryptLogN));
    const { secret, session } = this.sessions.create(user.id, { ip: client.ip, userAgent: client.userAgent });
    this.audit({ type: "auth.login", actor: user.id, subject: user.id, details: { ip: client.ip, session: session.id } });
    return { user, secret, session };
  }

  logout(session: { id: string; userId: string }): void {
    this.sessions.revoke(session.id);
    this.audit({ type: "auth.logout", actor: session.userId, subject: session.userId, details: { session: session.id } });
  }

  /** Changes the caller's own password after checking the current one; ends their other sessions. */
  async changePassword(userId: string, currentPassword: string, newPassword: string, keepSessionId?: string): Promise<void> {
    const stored = this.users.passwordHashOf(userId);
    if (!stored || !(await verifyPassword(currentPassword.slice(0, 1024), stored))) throw new SovereignError("LOGIN_FAILED", "The current password is wrong.");
    this.users.setPassword(userId, await this.hashPassword(newPassword));
    const ended = this.sessions.revokeAllOf(userId, keepSessionId);
    this.audit({ type: "auth.password_changed", actor: userId, subject: userId, details: { sessionsEnded: ended } });
  }

  /** An admin (or the console) sets someone's password; all their sessions end. */
  async resetPassword(userId: string, newPassword: string, actor: string): Promise<void> {
    this.users.setPassword(userId, await this.hashPassword(newPassword));
    const ended = this.sessions.revokeAllOf(userId);
    this.throttle.clear(`user:${(this.users.get(userId)?.username ?? "").toLowerCase()}`);
    this.audit({ type: "auth.password_reset", actor, subject: userId, details: { sessionsEnded: ended } });
  }

  /** The principal of a session cookie's secret, or why there is none. */
  principalFromSession(secret: string): { principal: Principal; session: SessionInfo } | { reason: string } {
    const found = this.sessions.lookup(secret);
    if (!found.ok) return { reason: found.reason };
    const s = found.session;
    return {
      session: s,
      principal: { kind: "user", userId: s.userId, username: s.username, role: s.role, scopes: [...roleScopes[s.role]], sessionId: s.id },
    };
  }

  principalFromApiKey(secret: string): { principal: Principal } | { reason: string } {
    const found = this.keys.lookup(secret);
    if (!found.ok) return { reason: found.reason };
    const { key, owner } = found;
    return {
      principal: { kind: "apiKey", userId: key.userId, username: owner.username, role: owner.role, scopes: effectiveKeyScopes(key.scopes, owner.role), keyId: key.id },
    };
  }

  // ---- quotas -------------------------------------------------------------

  private userLimits(userId: string, role: Role): { perHour: number | null; perDay: number | null } {
    const u = this.users.get(userId);
    const dflt = (n: number) => (role === "admin" || n === 0 ? null : n);
    return {
      perHour: u?.tokensPerHour ?? dflt(this.options.defaultQuota.tokensPerHour),
      perDay: u?.tokensPerDay ?? dflt(this.options.defaultQuota.tokensPerDay),
    };
  }

  /** Usage and limits for the caller: its user, and its key when it is one. */
  quotaStatus(principal: Principal): QuotaStatus {
    const status: QuotaStatus = { user: this.ledger.usage(`user:${principal.userId}`, this.userLimits(principal.userId, principal.role)) };
    if (principal.keyId) {
      const k = this.keys.get(principal.keyId);
      status.key = this.ledger.usage(`key:${principal.keyId}`, { perHour: k?.tokensPerHour ?? null, perDay: k?.tokensPerDay ?? null });
    }
    return status;
  }

  /**
   * The caller's quota windows (its user's, and its key's when it is one) with
   * the tokens reserved by its requests in flight counted as used.
   */
  private quotaWindows(principal: Principal): Array<WindowUsage & { subject: "user" | "key" }> {
    const status = this.quotaStatus(principal);
    const held = (subject: string) => this.ledger.reservedFor(subject);
    return [
      ...status.user.map((w) => ({ ...w, used: w.used + held(`user:${principal.userId}`), subject: "user" as const })),
      ...(status.key ?? []).map((w) => ({ ...w, used: w.used + held(`key:${principal.keyId}`), subject: "key" as const })),
    ];
  }

  /**
   * Throws QUOTA_EXCEEDED (429, details.resetsAt and retryAfterSeconds) when
   * the caller's user or key has used up a window, counting what requests in
   * flight hold. Call before generating (reserveTokens does).
   */
  checkQuota(principal: Principal): void {
    const windows = this.quotaWindows(principal);
    const over = windows.filter((w) => w.limit !== null && w.used >= w.limit);
    if (over.length === 0) return;
    // The latest reset among exhausted windows is when the caller can really go on.
    const worst = over.reduce((a, b) => (Date.parse(b.resetsAt) > Date.parse(a.resetsAt) ? b : a));
    const now = (this.options.now ?? Date.now)();
    const retryAfterSeconds = Math.max(1, Math.ceil((Date.parse(worst.resetsAt) - now) / 1000));
    throw new SovereignError(
      "QUOTA_EXCEEDED",
      `The ${worst.subject === "key" ? "API key's" : "user's"} quota of ${worst.limit} tokens per ${worst.window} is used up (requests still running count); it resets at ${worst.resetsAt}.`,
      { details: { subject: worst.subject, window: worst.window, limit: worst.limit, used: worst.used, resetsAt: worst.resetsAt, retryAfterSeconds } },
    );
  }

  /**
   * Grants one request up to `wanted` tokens to generate: what it asked for,
   * capped to what the tightest of the caller's windows has left, held in
   * reserve until `settle(used)` counts what it really used (prompt and
   * completion) and frees the rest. Parallel requests thus share one quota
   * instead of each seeing all of it. Throws QUOTA_EXCEEDED when nothing is left.
   * `wanted` 0 (embeddings) reserves nothing and only checks.
   */
  reserveTokens(principal: Principal, wanted: number): { maxTokens: number; settle(used: number): void } {
    this.checkQuota(principal);
    const limited = this.quotaWindows(principal).filter((w) => w.limit !== null);
    const left = Math.min(...limited.map((w) => (w.limit as number) - w.used));
    const maxTokens = Math.max(0, Math.min(wanted, left));
    const subjects = limited.length === 0 ? [] : [`user:${principal.userId}`, ...(principal.keyId ? [`key:${principal.keyId}`] : [])];
    const release = this.ledger.reserve(subjects, maxTokens);
    let settled = false;
    return {
      maxTokens,
      settle: (used) => {
        if (settled) return;
        settled = true;
        release();
        this.chargeTokens(principal, used);
      },
    };
  }

  /** Counts tokens a caller used (prompt plus generated) against its user and its key. */
  chargeTokens(principal: Principal, tokens: number): void {
    this.ledger.add(`user:${principal.userId}`, tokens);
    if (principal.keyId) this.ledger.add(`key:${principal.keyId}`, tokens);
  }

  audit(event: { type: string; actor?: string | null; subject?: string | null; details?: Record<string, unknown> }): void {
    try {
      this.options.audit?.(event);
    } catch (err) {
      this.options.log?.error({ err, type: event.type }, "audit record failed");
    }
  }
}

function lockedError(ms: number): SovereignError {
  const retryAfterSeconds = Math.max(1, Math.ceil(ms / 1000));
  return new SovereignError("LOGIN_LOCKED", `Too many failed attempts; try again in ${retryAfterSeconds} s.`, { details: { retryAfterSeconds } });
}
