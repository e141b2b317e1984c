import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import type { Logger } from "pino";
import { buildApp } from "../../appliance/app.js";
import { resolveConfig } from "../../appliance/config/resolveConfig.js";
import { detectHardware } from "../../hardware/detectHardware.js";
import { tuneForConfig } from "../../hardware/tuneForConfig.js";
import { buildTestApp, type TestApp, testSettings } from "../helpers/testApp.js";

/** Cheap scrypt for tests (the default 2^16 is for devices); everything else is the real thing. */
export const fastAuth = { "auth.scryptLogN": 14 };

export const ADMIN = { username: "admin", password: "correct horse battery staple" };

export function buildAuthTestApp(settings: Record<string, unknown> = {}): Promise<TestApp> {
  return buildTestApp({ ...fastAuth, ...settings });
}

export function setupCodeOf(dataDir: string): string {
  return readFileSync(join(dataDir, "setup-code"), "utf8").trim();
}

/** The name=value pairs of a response's Set-Cookie headers, as a Cookie header. */
export function cookieHeader(res: LightMyRequestResponse): string {
  return res.cookies.map((c) => `${c.name}=${c.value}`).join("; ");
}

export interface Session {
  cookie: string;
  csrf: string;
}

export async function claim(app: FastifyInstance, dataDir: string, who = ADMIN): Promise<Session> {
  const res = await app.inject({ method: "POST", url: "/api/setup/claim", payload: { code: setupCodeOf(dataDir), ...who } });
  if (res.statusCode !== 201) throw new Error(`claim failed: ${res.statusCode} ${res.body}`);
  return { cookie: cookieHeader(res), csrf: (res.json() as { csrfToken: string }).csrfToken };
}

export async function login(app: FastifyInstance, username: string, password: string): Promise<Session> {
  const res = await app.inject({ method: "POST", url: "/api/auth/login", payload: { username, password } });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  return { cookie: cookieHeader(res), csrf: (res.json() as { csrfToken: string }).csrfToken };
}

/** Headers of a browser request from the node's own page, with the session and its CSRF token. */
export function as(s: Session): Record<string, string> {
  return { cookie: s.cookie, "x-csrf-token": s.csrf };
}

/**
 * The real app, built like buildTestApp but with `extra` registered before
 * ready (a probe route standing in for another service), and an optional logger.
 */
export async function buildAuthAppWith(
  extra: (app: FastifyInstance) => void | Promise<void>,
  settings: Record<string, unknown> = {},
  options: { logger?: Logger; dataDir?: string } = {},
): Promise<TestApp> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "sovereign-auth-"));
  const { config } = resolveConfig({ env: {}, flags: { "paths.dataDir": dataDir, ...testSettings, ...fastAuth, ...settings } });
  const hardware = await detectHardware();
  const app = await buildApp({ config, hardware, tuning: tuneForConfig(hardware.facts, config), logger: options.logger ?? false });
  await app.register(async (child) => extra(child));
  await app.ready();
  return {
    app,
    config,
    dataDir,
    close: async () => {
      await app.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
