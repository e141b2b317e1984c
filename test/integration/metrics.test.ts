import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { requireTools } from "../helpers/requireTool.js";
import { as, buildAuthTestApp, claim } from "./authHelpers.js";
import type { TestApp } from "../helpers/testApp.js";

const LAN = "192.168.1.50";

describe("metrics", () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("serves Prometheus text to loopback with HTTP, database and hardware series", async () => {
    t = await buildAuthTestApp();
    await t.app.inject({ method: "GET", url: "/healthz" });
    await t.app.inject({ method: "GET", url: "/no/such/route", headers: { host: "localhost" } });
    const res = await t.app.inject({ method: "GET", url: "/metrics", headers: { host: "localhost" } });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body;
    expect(text).toMatch(/sovereign_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
    expect(text).toMatch(/sovereign_http_errors_total\{method="GET",route="unmatched",class="4xx"\} 1/);
    expect(text).toContain("sovereign_http_request_duration_seconds_bucket");
    expect(text).toMatch(/sovereign_db_size_bytes [1-9]/);
    expect(text).toContain("sovereign_db_wal_size_bytes");
    expect(text).toMatch(/sovereign_db_query_duration_seconds_count\{op="probe_read"\} 1/);
    expect(text).toMatch(/sovereign_memory_total_bytes [1-9]/);
    expect(text).toMatch(/sovereign_disk_free_bytes [1-9]/);
    expect(text).toContain("nodejs_eventloop_lag_p99_seconds");
  });

  it("refuses a LAN caller without a key, or with a key lacking the metrics scope, and serves one with it", async () => {
    t = await buildAuthTestApp();
    const admin = await claim(t.app, t.dataDir);
    const headers = { host: "localhost" };
    expect((await t.app.inject({ method: "GET", url: "/metrics", headers, remoteAddress: LAN })).statusCode).toBe(401);
    const mk = async (scopes: string[]) => {
      const r = await t!.app.inject({ method: "POST", url: "/api/keys", headers: { ...headers, ...as(admin) }, payload: { name: scopes.join("+"), scopes } });
      expect(r.statusCode).toBe(201);
      return (r.json() as { key: string }).key;
    };
    const chat = await mk(["chat"]);
    const scraper = await mk(["metrics"]);
    const denied = await t.app.inject({ method: "GET", url: "/metrics", headers: { ...headers, authorization: `Bearer ${chat}` }, remoteAddress: LAN });
    expect(denied.statusCode).toBe(403);
    const ok = await t.app.inject({ method: "GET", url: "/metrics", headers: { ...headers, authorization: `Bearer ${scraper}` }, remoteAddress: LAN });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain("sovereign_http_requests_total");
  });

  it("records pushed generation and query timings", async () => {
    t = await buildAuthTestApp();
    t.app.metrics.observeGeneration({ model: "m", promptTokens: 100, promptMs: 500, generatedTokens: 40, generationMs: 2000, ttftMs: 600 });
    t.app.metrics.observeQuery("memory_search", 0.004);
    const text = (await t.app.inject({ method: "GET", url: "/metrics", headers: { host: "localhost" } })).body;
    expect(text).toMatch(/sovereign_inference_prompt_tokens_per_second 200/);
    expect(text).toMatch(/sovereign_inference_generation_tokens_per_second 20/);
    expect(text).toMatch(/sovereign_inference_time_to_first_token_seconds_count\{served_by="local"\} 1/);
    expect(text).toMatch(/sovereign_db_query_duration_seconds_count\{op="memory_search"\} 1/);
  });

  it("counts scheduled job runs by job and outcome", async () => {
    t = await buildAuthTestApp();
    const scheduler = (t.app as unknown as { scheduler: { list(): Array<{ name: string }>; runNow(name: string): { done: Promise<unknown> } } }).scheduler;
    const job = scheduler.list()[0]?.name;
    expect(job).toBeDefined();
    await scheduler.runNow(job!).done;
    const text = (await t.app.inject({ method: "GET", url: "/metrics", headers: { host: "localhost" } })).body;
    expect(text).toMatch(new RegExp(`sovereign_job_runs_total\\{job_name="${job}",outcome="[a-z]+"\\} 1`));
    expect(text).toMatch(new RegExp(`sovereign_job_duration_seconds_count\\{job_name="${job}"\\} 1`));
  });

  describe.runIf(requireTools("promtool"))("promtool", () => {
    it("accepts the exposition (promtool check metrics)", async () => {
      t = await buildAuthTestApp();
      await t.app.inject({ method: "GET", url: "/healthz" });
      t.app.metrics.observeGeneration({ promptTokens: 10, promptMs: 100, generatedTokens: 5, generationMs: 100, ttftMs: 120 });
      const text = (await t.app.inject({ method: "GET", url: "/metrics", headers: { host: "localhost" } })).body;
      const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      expect(`${r.stdout}${r.stderr}`).toBe("");
      expect(r.status).toBe(0);
    });
  });
});
