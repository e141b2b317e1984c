import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInferenceApp, type InferenceTestApp } from "./inferenceFixtures.js";
import { buildTestApp } from "../helpers/testApp.js";
import { listenExtra, type ExtraListener } from "../../appliance/extraListener.js";

const APP = "https://chat.example.org";

function preflight(url: string, origin: string): Promise<Response> {
  return fetch(url, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" } });
}

// Browser apps on another origin (a hosted chat UI, an extension) calling the APIs with a key, over real HTTP.
describe("CORS for the OpenAI and Ollama APIs (server.corsOrigins)", () => {
  let t: InferenceTestApp;
  let ollama: ExtraListener;
  beforeAll(async () => {
    t = await startInferenceApp({ "server.corsOrigins": [APP, "chrome-extension://abcdefghijklmnop"] });
    ollama = await listenExtra(t.app, { host: "127.0.0.1", port: 0, prefix: "/ollama" });
  });
  afterAll(async () => {
    await ollama?.close();
    await t?.close();
  });

  it("answers a listed origin's preflight without a key, for /v1, /ollama and the Ollama port", async () => {
    for (const url of [`${t.url}/v1/chat/completions`, `${t.url}/ollama/api/chat`, `${ollama.url}/api/chat`]) {
      const res = await preflight(url, APP);
      expect(res.status, url).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe(APP);
      expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
      expect(res.headers.get("access-control-allow-methods")).toContain("POST");
      // Never credentials: the panel's cookie does not ride along on a cross-origin call.
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    }
    const ext = await preflight(`${t.url}/v1/models`, "chrome-extension://abcdefghijklmnop");
    expect(ext.headers.get("access-control-allow-origin")).toBe("chrome-extension://abcdefghijklmnop");
  });

  it("lets the page read an answer made with a key, and its node header; without a key it is still 401", async () => {
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { origin: APP, authorization: `Bearer ${t.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("access-control-expose-headers")).toContain("x-sovereign-served-by");
    const anonymous = await fetch(`${t.url}/v1/models`, { headers: { origin: APP } });
    expect(anonymous.status).toBe(401);
  });

  it("gives other origins and the panel's own routes no CORS at all", async () => {
    const evil = await preflight(`${t.url}/v1/chat/completions`, "https://evil.example");
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    const evilGet = await fetch(`${t.url}/v1/models`, { headers: { origin: "https://evil.example", authorization: `Bearer ${t.key}` } });
    expect(evilGet.headers.get("access-control-allow-origin")).toBeNull();
    const panel = await preflight(`${t.url}/api/auth/login`, APP);
    expect(panel.headers.get("access-control-allow-origin")).toBeNull();
    const panelGet = await fetch(`${t.url}/api/models`, { headers: { origin: APP, authorization: `Bearer ${t.key}` } });
    expect(panelGet.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("server.corsOrigins unset or wrong", () => {
  it("by default no origin gets CORS headers", async () => {
    const t = await startInferenceApp({}, { install: false });
    try {
      const res = await preflight(`${t.url}/v1/chat/completions`, APP);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      expect(res.status).toBeGreaterThanOrEqual(400);
    } finally {
      await t.close();
    }
  });

  it("the panel saves a comma-separated list of origins and refuses an entry that is not one, by name", async () => {
    const t = await startInferenceApp({}, { install: false });
    try {
      const put = (value: string) => t.call("/api/settings/server.corsOrigins", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ value }) });
      const bad = await put("https://a.example, https://b.example/chat");
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { message: string } }).error.message).toContain("\"https://b.example/chat\" is not an origin");
      const ok = await put("https://a.example, chrome-extension://abc");
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ key: "server.corsOrigins", saved: ["https://a.example", "chrome-extension://abc"], pending: true });
    } finally {
      await t.close();
    }
  });

  it("an entry that is not an origin stops the node with a message naming it", async () => {
    await expect(buildTestApp({ "server.corsOrigins": ["https://chat.example.org/app"] })).rejects.toMatchObject({
      code: "CONFIG_INVALID", message: expect.stringContaining("\"https://chat.example.org/app\" is not an origin"),
    });
  });
});
