import { existsSync } from "node:fs";
import type { InjectOptions } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/testApp.js";
import { as, buildAuthTestApp, claim, type Session } from "./authHelpers.js";

let t: TestApp;
let s: Session;
const req = (o: InjectOptions) => t.app.inject({ ...o, headers: { ...as(s), ...(o.headers ?? {}) } });

beforeEach(async () => {
  t = await buildAuthTestApp();
  s = await claim(t.app, t.dataDir);
});
afterEach(async () => {
  await t.close();
});

describe("/api/jobs and /api/backups", () => {
  it("lists the registered jobs with their schedules", async () => {
    const res = await req({ url: "/api/jobs" });
    expect(res.statusCode).toBe(200);
    const jobs = res.json().jobs as Array<{ name: string; schedule: string; onlyWhenIdle: boolean; nextRunAt: string | null }>;
    expect(jobs.map((j) => j.name)).toEqual(expect.arrayContaining(["db-backup", "db-checkpoint", "memory-summarize", "memory-expire", "model-integrity"]));
    const summarize = jobs.find((j) => j.name === "memory-summarize");
    expect(summarize?.onlyWhenIdle).toBe(true);
    expect(summarize?.nextRunAt).not.toBeNull();
  });

  it("runs a job now, records it, and pauses/resumes it", async () => {
    const run = await req({ method: "POST", url: "/api/jobs/db-backup/run?wait=true" });
    expect(run.statusCode, run.body).toBe(200);
    const record = run.json().run as { outcome: string; result: { path: string; integrity: string } };
    expect(record.outcome).toBe("ok");
    expect(record.result.integrity).toBe("ok");
    expect(existsSync(record.result.path)).toBe(true);

    const backups = (await req({ url: "/api/backups" })).json().backups as Array<{ path: string }>;
    expect(backups.map((b) => b.path)).toContain(record.result.path);
    const made = await req({ method: "POST", url: "/api/backups" });
    expect(made.statusCode).toBe(201);

    const runs = (await req({ url: "/api/jobs/runs?job=db-backup" })).json().runs as Array<{ outcome: string; trigger: string }>;
    expect(runs[0]).toMatchObject({ outcome: "ok", trigger: "manual" });
    const episodes = (await req({ url: "/api/memory/episodes?kind=job-run" })).json().episodes as Array<{ summary: string }>;
    expect(episodes[0]?.summary).toContain("db-backup ok");

    expect((await req({ method: "POST", url: "/api/jobs/db-backup/pause" })).json()).toEqual({ name: "db-backup", paused: true });
    expect((await req({ url: "/api/jobs/db-backup" })).json().job.paused).toBe(true);
    expect((await req({ method: "POST", url: "/api/jobs/db-backup/resume" })).json().paused).toBe(false);
    const missing = await req({ method: "POST", url: "/api/jobs/nope/run" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe("JOB_NOT_FOUND");
  });

  it("needs an authenticated caller", async () => {
    expect((await t.app.inject({ url: "/api/jobs" })).statusCode).toBe(401);
    expect((await t.app.inject({ url: "/api/backups" })).statusCode).toBe(401);
    expect((await t.app.inject({ url: "/api/memory/search?q=x" })).statusCode).toBe(401);
    expect((await t.app.inject({ url: "/api/conversations" })).statusCode).toBe(401);
  });
});
