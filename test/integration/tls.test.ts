import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import type { TLSSocket } from "node:tls";
import { join } from "node:path";
import { as, buildAuthTestApp, setupCodeOf, ADMIN, type Session } from "./authHelpers.js";
import type { TestApp } from "../helpers/testApp.js";
import { listenExtra, type ExtraListener } from "../../appliance/extraListener.js";
import { repoRoot } from "../helpers/cli.js";

/** A request over HTTPS that trusts only the node's own CA. */
function httpsCall(url: string, ca: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; fingerprint: string }>((resolve, reject) => {
    const req = httpsRequest(url, { method: init.method ?? "GET", headers: init.headers, ca }, (res) => {
      let body = "";
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, fingerprint }));
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

describe("HTTPS on the LAN", () => {
  let t: TestApp;
  let https: ExtraListener;
  let base: string;
  let ca: string;

  beforeAll(async () => {
    t = await buildAuthTestApp({ "server.host": "127.0.0.1", "server.tls": "on", "server.httpsPort": 0 });
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    https = await listenExtra(t.app, { host: "127.0.0.1", port: 0, tls: t.app.tls! });
    base = https.url;
    ca = t.app.tls!.caCert;
  });
  afterAll(async () => {
    await https?.close();
    await t?.close();
  });

  it("makes a local CA and a server certificate, keys 0600, covering the node's names and loopback", () => {
    const tls = t.app.tls!;
    expect(tls.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(tls.fingerprint).not.toBe(tls.caFingerprint);
    for (const key of ["ca.key", "server.key"]) expect(statSync(join(t.dataDir, "tls", key)).mode & 0o777).toBe(0o600);
    expect(statSync(join(t.dataDir, "tls")).mode & 0o777).toBe(0o700);
    expect(tls.ips).toContain("127.0.0.1");
    expect(tls.names).toContain("localhost");
  });

  it("serves HTTPS whose certificate is the one it announces, and verifies against the downloadable CA", async () => {
    const res = await httpsCall(`${base}/healthz`, ca);
    expect(res.status).toBe(200);
    expect(res.fingerprint).toBe(t.app.tls!.fingerprint);
    const caRes = await httpsCall(`${base}/tls/ca.crt`, ca);
    expect(caRes.status).toBe(200);
    expect(caRes.body).toBe(ca);
    // Without the node's CA the connection is refused: trust is the owner's choice.
    await expect(new Promise((resolve, reject) => httpsRequest(`${base}/healthz`, (r) => resolve(r.statusCode)).on("error", reject).end())).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it("redirects plain HTTP from the LAN to HTTPS, except /healthz and loopback", async () => {
    const httpsPort = new URL(base).port;
    const lan = { remoteAddress: "192.168.1.50", headers: { host: "localhost:8080" } };
    const redirected = await t.app.inject({ url: "/api/setup/status?x=1", ...lan });
    expect(redirected.statusCode).toBe(308);
    // The test app was built with httpsPort 0 (the listener picked a port), so the redirect names the setting's port.
    expect(redirected.headers.location).toBe(`https://localhost:${t.config["server.httpsPort"]}/api/setup/status?x=1`);
    expect(httpsPort).not.toBe("");
    expect((await t.app.inject({ url: "/healthz", ...lan })).statusCode).toBe(200);
    expect((await t.app.inject({ url: "/api/setup/status", remoteAddress: "127.0.0.1", headers: { host: "localhost:8080" } })).statusCode).toBe(200);
  });

  it("sets Secure cookies over TLS, and the official openai client works with the CA pinned", async () => {
    const res = await httpsCall(`${base}/api/setup/claim`, ca, {
      method: "POST", headers: { "content-type": "application/json", host: "localhost" }, body: JSON.stringify({ code: setupCodeOf(t.dataDir), ...ADMIN }),
    });
    expect(res.status).toBe(201);
    const cookies = res.headers["set-cookie"] as string[];
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) expect(c).toMatch(/;\s*Secure/i);

    const session: Session = await (async () => {
      const login = await t.app.inject({ method: "POST", url: "/api/auth/login", remoteAddress: "127.0.0.1", payload: ADMIN });
      return { cookie: login.cookies.map((c) => `${c.name}=${c.value}`).join("; "), csrf: (login.json() as { csrfToken: string }).csrfToken };
    })();
    const status = await t.app.inject({ url: "/api/status", remoteAddress: "127.0.0.1", headers: as(session) });
    expect(status.json().node.certificateFingerprint).toBe(t.app.tls!.fingerprint);
    const key = (await t.app.inject({ method: "POST", url: "/api/keys", remoteAddress: "127.0.0.1", headers: as(session), payload: { name: "sdk", scopes: ["chat"] } })).json().key as string;
    expect(key).toBeTruthy();

    // The SDK runs in its own process, trusting the CA the way an owner would (NODE_EXTRA_CA_CERTS).
    const script = `import OpenAI from "openai";
const client = new OpenAI({ baseURL: process.env.BASE + "/v1", apiKey: process.env.KEY, maxRetries: 0 });
const models = await client.models.list();
process.stdout.write(JSON.stringify({ object: "list", count: models.data.length }));`;
    // Not spawnSync: the server answering the SDK lives in this process's event loop.
    const run = (env: Record<string, string>) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: repoRoot, env: { ...process.env, BASE: base, KEY: key, ...env } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (status) => resolve({ status, stdout, stderr }));
      });
    const caFile = join(t.dataDir, "tls", "ca.crt");
    const pinned = await run({ NODE_EXTRA_CA_CERTS: caFile });
    expect(pinned.status, pinned.stderr).toBe(0);
    expect(JSON.parse(pinned.stdout)).toEqual({ object: "list", count: 0 });
    const unpinned = await run({});
    expect(unpinned.status).not.toBe(0);
    expect(unpinned.stderr).toMatch(/Connection error|certificate|self[- ]signed/i);
  });
});
