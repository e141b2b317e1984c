import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import type { FastifyInstance } from "fastify";
import { buildTestApp, type TestApp } from "../helpers/testApp.js";
import { testLlamaModel } from "../models/testModelCache.js";

export interface InferenceTestApp extends TestApp {
  url: string;
  /** Bearer key with the chat and models scopes ("" when no auth service is loaded). */
  key: string;
  client: OpenAI;
  /** fetch against the server with the key. */
  call(path: string, init?: RequestInit): Promise<Response>;
}

interface AuthLike {
  hashPassword(p: string): Promise<string>;
  users: { claim(username: string, hash: string): { id: string } };
  keys: { create(input: { userId: string; name: string; scopes: string[]; expiresAt: number | null }): { secret: string } };
}

async function adminKey(app: FastifyInstance): Promise<string> {
  if (!app.hasDecorator("auth")) return "";
  const auth = (app as unknown as { auth: AuthLike }).auth;
  const admin = auth.users.claim("admin", await auth.hashPassword("correct horse battery staple"));
  return auth.keys.create({ userId: admin.id, name: "inference tests", scopes: ["chat", "models", "admin"], expiresAt: null }).secret;
}

/** One engine thread (this machine is small and shared), two slots, a small context, no idle unload. */
export const inferenceTestSettings: Readonly<Record<string, unknown>> = {
  "tuning.promptThreads": 1,
  "tuning.generationThreads": 1,
  "tuning.embeddingThreads": 1,
  "tuning.parallelSequences": 2,
  "tuning.contextSize": 512,
  "inference.idleUnloadMinutes": 0,
};

/**
 * The real app on port 0 with the generated tiny llama installed as "tiny",
 * one engine thread (this machine is small and shared) and an OpenAI client.
 */
export async function startInferenceApp(settings: Record<string, unknown> = {}, options: { install?: boolean } = {}): Promise<InferenceTestApp> {
  const t = await buildTestApp({ ...inferenceTestSettings, ...settings });
  if (options.install !== false) await t.app.inference.registry.add(testLlamaModel(), { name: "tiny" });
  await t.app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const key = await adminKey(t.app);
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: key || "none", maxRetries: 0, timeout: 60_000 });
  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${url}${path}`, { ...init, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(init.headers as Record<string, string> | undefined) } });
  return { ...t, url, key, client, call };
}
