import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import type { TestApp } from "../helpers/testApp.js";
import { requirePrincipal } from "../../services/auth/principal.js";
import { sha256 } from "../../services/auth/secrets.js";
import { as, buildAuthAppWith, claim, login, type Session } from "./authHelpers.js";

/** A stand-in for the inference service: checks the quota, then charges what it "generated". */
function probeRoutes(app: FastifyInstance) {
  app.post<{ Body: { tokens: number } }>("/v1/probe/generate", { config: { scope: "chat" } }, async (request) => {
    const p = requirePrincipal(request);
    app.auth.checkQuota(p);
    app.auth.chargeTokens(p, request.body.tokens);
    return { ok: true };
  });
}

describe("API keys and quotas", () => {
  let t: TestApp;
  let admin: Session;
  beforeEach(async () => {
    t = await buildAuthAppWith(probeRoutes);
    admin = await claim(t.app, t.dataDir);
  });
  afterEach(async () => t.close());

  const createKey = async (s: Session, body: Record<string, unknown>) =>
    t.app.inject({ method: "POST", url: "/api/keys", headers: as(s), payload: body });

  it("shows a key once, stores only its hash, and accepts it as a Bearer token", async () => {
    const res = await createKey(admin, { name: "laptop", scopes: ["chat"] });
    expect(res.statusCode).toBe(201);
    const { key, id, prefix } = res.json() as { key: string; id: string; prefix: string };
    expect(key).toMatch(/^sk-sov-[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(prefix)).toBe(true);
    const row = t.app.db.sqlite.prepare("SELECT * FROM auth_api_keys WHERE id = ?").get(id) as Record<string, unknown>;
    expect(JSON.stringify(row)).not.toContain(key);
    expect(row.key_hash).toBe(sha256(key));
    const list = await t.app.inject({ url: "/api/keys", headers: as(admin) });
    expect(JSON.stringify(list.json())).not.toContain(key);
    expect(list.json().keys[0].lastUsedAt).toBeNull();

    const me = await t.app.inject({ url: "/api/auth/me", headers: { authorization: `Bearer ${key}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ kind: "apiKey", keyId: id, scopes: ["chat"] });
    const gen = await t.app.inject({ method: "POST", url: "/v1/probe/generate", headers: { authorization: `Bearer ${key}` }, payload: { tokens: 1 } });
    expect(gen.statusCode).toBe(200);
    expect((await t.app.inject({ url: "/api/keys", headers: as(admin) })).json().keys[0].lastUsedAt).not.toBeNull();
  });

  it("enforces scopes, expiry and revocation", async () => {
    const memoryOnly = (await createKey(admin, { name: "mem", scopes: ["memory:read"] })).json().key as string;
    const refused = await t.app.inject({ method: "POST", url: "/v1/probe/generate", headers: { authorization: `Bearer ${memoryOnly}` }, payload: { tokens: 1 } });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe("INSUFFICIENT_SCOPE");
    expect((await t.app.inject({ url: "/api/users", headers: { authorization: `Bearer ${memoryOnly}` } })).statusCode).toBe(403);
    // A key without "admin" cannot mint more keys.
    const mint = await t.app.inject({ method: "POST", url: "/api/keys", headers: { authorization: `Bearer ${memoryOnly}` }, payload: { name: "x", scopes: ["chat"] } });
    expect(mint.statusCode).toBe(403);

    const created = (await createKey(admin, { name: "short", scopes: ["chat"], expiresInDays: 1 })).json() as { key: string; id: string };
    t.app.db.sqlite.prepare("UPDATE auth_api_keys SET expires_at = ? WHERE id = ?").run(Date.now() - 1, created.id);
    const expired = await t.app.inject({ url: "/api/auth/me", headers: { authorization: `Bearer ${created.key}` } });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.code).toBe("API_KEY_INVALID");

    const live = (await createKey(admin, { name: "live", scopes: ["chat"] })).json() as { key: string; id: string };
    expect((await t.app.inject({ method: "DELETE", url: `/api/keys/${live.id}`, headers: as(admin) })).statusCode).toBe(200);
    expect((await t.app.inject({ url: "/api/auth/me", headers: { authorization: `Bearer ${live.key}` } })).statusCode).toBe(401);
    expect((await t.app.inject({ url: "/api/auth/me", headers: { authorization: "Bearer sk-sov-not-a-key" } })).statusCode).toBe(401);
  });

  it("never gives a key more than its owner's role, even after a demotion", async () => {
    await t.app.inject({ method: "POST", url: "/api/users", headers: as(admin), payload: { username: "uma", password: "uma password 12", role: "user" } });
    const uma = await login(t.app, "uma", "uma password 12");
    const tooMuch = await createKey(uma, { name: "x", scopes: ["chat", "admin"] });
    expect(tooMuch.statusCode).toBe(403);
    const key = (await createKey(uma, { name: "x", scopes: ["chat", "memory:write"] })).json().key as string;
    const umaId = (await t.app.inject({ url: "/api/auth/me", headers: as(uma) })).json().userId as string;
    await t.app.inject({ method: "PATCH", url: `/api/users/${umaId}`, headers: as(admin), payload: { role: "guest" } });
    const me = await t.app.inject({ url: "/api/auth/me", headers: { authorization: `Bearer ${key}` } });
    expect(me.json().scopes).toEqual(["chat"]);
  });

  it("answers 429 with the reset time when a key's or a user's quota is used up", async () => {
    const { key, id } = (await createKey(admin, { name: "metered", scopes: ["chat"] })).json() as { key: string; id: string };
    const put = await t.app.inject({ method: "PUT", url: `/api/quotas/keys/${id}`, headers: as(admin), payload: { tokensPerHour: 100, tokensPerDay: 1000 } });
    expect(put.statusCode).toBe(200);
    const gen = (tokens: number) => t.app.inject({ method: "POST", url: "/v1/probe/generate", headers: { authorization: `Bearer ${key}` }, payload: { tokens } });
    expect((await gen(60)).statusCode).toBe(200);
    expect((await gen(60)).statusCode).toBe(200); // under the limit when it started
    const over = await gen(1);
    expect(over.statusCode).toBe(429);
    const err = over.json().error;
    expect(err.code).toBe("QUOTA_EXCEEDED");
    expect(err.details).toMatchObject({ subject: "key", window: "hour", limit: 100, used: 120 });
    const resetsAt = Date.parse(err.details.resetsAt as string);
    expect(resetsAt % 3_600_000).toBe(0);
    expect(resetsAt).toBeGreaterThan(Date.now());
    expect(err.message).toContain(err.details.resetsAt);
    expect(Number(over.headers["retry-after"])).toBeGreaterThan(0);

    const status = (await t.app.inject({ url: "/api/quotas", headers: { authorization: `Bearer ${key}` } })).json();
    expect(status.key[0]).toMatchObject({ window: "hour", used: 120, limit: 100 });
    expect(status.user[1]).toMatchObject({ window: "day", used: 120, limit: null });

    // A user's own limit applies across all their keys and sessions.
    const adminId = (await t.app.inject({ url: "/api/auth/me", headers: as(admin) })).json().userId as string;
    await t.app.inject({ method: "PUT", url: `/api/quotas/users/${adminId}`, headers: as(admin), payload: { tokensPerHour: null, tokensPerDay: 120 } });
    const viaSession = await t.app.inject({ method: "POST", url: "/v1/probe/generate", headers: as(admin), payload: { tokens: 1 } });
    expect(viaSession.statusCode).toBe(429);
    expect(viaSession.json().error.details).toMatchObject({ subject: "user", window: "day" });
  });
});
