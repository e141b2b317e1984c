import fp from "fastify-plugin";
import cookie from "@fastify/cookie";
import { accessHook } from "./accessHook.js";
import { AuthService } from "./AuthService.js";
import { HostAllowList, nodeNames } from "./hostCheck.js";
import type { Principal } from "./principal.js";
import { authRoutes } from "./routes/index.js";
import { authMigrations } from "./schema.js";
import type { Scope } from "./scopes.js";
import type { SessionInfo } from "./SessionStore.js";
import { ensureSetupCode, removeSetupCode, setupCodePath } from "./setupCodeFile.js";
import "./errors.js";
import { PhysicalRecovery } from "./physicalRecovery.js";
import { randomToken } from "./secrets.js";

declare module "fastify" {
  interface FastifyInstance {
    /** Setup, login, sessions, users, API keys and quotas (see services/auth/README.md). */
    auth: AuthService;
  }
  interface FastifyRequest {
    /** Who is calling; null on a public route with nobody logged in. Set before any handler runs. */
    principal: Principal | null;
    /** The session behind a cookie principal (for logout and CSRF); null otherwise. */
    authSession: SessionInfo | null;
  }
  interface FastifyContextConfig {
    /** The permission a route needs beyond being authenticated (see the permission table). */
    scope?: Scope;
    /**
     * What an API key needs on this route beyond `scope`, where sessions need
     * less (managing one's own keys: any session, but only an "admin" key);
     * "never": sessions only (changing a password).
     */
    keyScope?: Scope | "never";
  }
}

/**
 * The auth service: one onRequest hook gates every route of the app (Host
 * check, principal, access rule, scope, CSRF); it decorates `app.auth` and
 * `request.principal`, announces the setup code while unclaimed, and serves
 * /api/setup, /api/auth, /api/users, /api/keys and /api/quotas.
 */
export const authPlugin = fp(
  async (app) => {
    const cfg = app.config;
    app.db.migrate("auth", authMigrations);
    if (!app.hasRequestDecorator("cookies")) await app.register(cookie);

    const codePath = setupCodePath(cfg);
    const auth = new AuthService(app.db.sqlite, {
      setupCodePath: codePath,
      scryptLogN: cfg["auth.scryptLogN"],
      session: { idleMs: cfg["auth.sessionIdleMinutes"] * 60_000, maxMs: cfg["auth.sessionMaxHours"] * 3_600_000 },
      throttle: { maxFailures: cfg["auth.loginMaxFailures"], baseLockMs: cfg["auth.lockoutSeconds"] * 1000, maxLockMs: cfg["auth.lockoutMaxSeconds"] * 1000 },
      defaultQuota: { tokensPerHour: cfg["auth.quotaTokensPerHour"], tokensPerDay: cfg["auth.quotaTokensPerDay"] },
      log: app.log,
      audit: (event) => app.audit.record(event),
    });
    app.decorate("auth", auth);
    // The audit log's panel names users and keys through these (audit loads first: auth records into it).
    app.audit.useNames({ users: auth.users, keys: auth.keys });
    auth.warmUp();
    app.decorateRequest("principal", null);
    app.decorateRequest("authSession", null);

    if (auth.isClaimed()) {
      removeSetupCode(codePath);
    } else {
      const { code, replaced } = ensureSetupCode(codePath);
      if (replaced) app.log.warn({ file: codePath }, "the pre-seeded setup code was too weak (under 16 characters) and was replaced");
      // The one place the code is written out: the console and journal, so whoever holds the device can claim it.
      app.log.warn(`This node is not claimed yet. Setup code: ${code}  (open the web UI and enter it; \`sovereign setup-code\` shows it again)`);
    }

    const hosts = new HostAllowList(nodeNames(cfg["server.allowedHosts"], cfg["node.name"]));
    app.addHook("onRequest", accessHook(app, auth, hosts));

    const recovery = new PhysicalRecovery(cfg["auth.recoveryDirs"].length > 0 ? cfg["auth.recoveryDirs"] : [cfg["paths.dataDir"]], cfg["paths.dataDir"], {
      isClaimed: () => auth.isClaimed(),
      regenerateSetupCode: () => {
        const code = auth.regenerateSetupCode();
        app.log.warn(`Recovery by physical presence: new setup code: ${code}  (open the web UI and enter it)`);
      },
      resetAdminPassword: async (username) => {
        const admins = auth.users.list().filter((u) => u.role === "admin" && !u.disabled);
        const who = username === null ? admins[0] : admins.find((u) => u.username === username);
        if (!who) throw new Error(username === null ? "no enabled admin" : `no enabled admin named ${username}`);
        const password = randomToken(15);
        await auth.resetPassword(who.id, password, "physical-recovery");
        app.log.warn(`Recovery by physical presence: the password of admin "${who.username}" is now: ${password}  (shown once; change it after logging in)`);
        return who.username;
      },
      audit: (event) => auth.audit(event),
      log: app.log,
    });
    const checkRecovery = () => recovery.check().catch((err: unknown) => app.log.error({ err }, "recovery check failed"));
    // At start the check is awaited, so a recovery file on the boot partition acts before the node serves.
    app.addHook("onReady", async () => void (await checkRecovery()));
    const recoveryTimer = setInterval(() => void checkRecovery(), 30_000);
    recoveryTimer.unref();
    app.addHook("onClose", async () => clearInterval(recoveryTimer));

    const pruner = setInterval(() => {
      try {
        auth.sessions.prune();
        auth.ledger.prune();
      } catch (err) {
        app.log.error({ err }, "auth prune failed");
      }
    }, 3_600_000);
    pruner.unref();
    app.addHook("onClose", async () => clearInterval(pruner));

    await app.register(authRoutes);
  },
  { name: "sovereign-auth", dependencies: ["sovereign-context", "sovereign-db", "sovereign-identity", "sovereign-audit"] },
);
