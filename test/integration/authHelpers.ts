import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import type { Logger } from "pino";
import { buildTestApp, type TestApp } from "../helpers/testApp.js";

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
  return buildTestApp({ ...fastAuth, ...settings }, { ...options, beforeReady: extra });
}
