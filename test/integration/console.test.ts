import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPath, ensureBuilt, repoRoot, startServe } from "../helpers/cli.js";

// A busy 2-core CI machine can stall the loop at start; overload shedding (503s) is tested elsewhere.
const calm = ["--shed-event-loop-delay-ms", "60000"];

/** Twenty requests of the kinds a browser and scripts make: pages, assets, API calls, refusals, a 404. */
async function twentyRequests(base: string): Promise<number[]> {
  const paths = ["/", "/assets/app.css", "/assets/js/app.js", "/healthz", "/api/setup/status", "/api/auth/me", "/api/status", "/nope"];
  const statuses: number[] = [];
  for (let i = 0; i < 20; i++) statuses.push((await fetch(`${base}${paths[i % paths.length]}`)).status);
  return statuses;
}

describe("the console of `sovereign serve` at the default log level", () => {
  let dir: string;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "sovereign-console-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("JSON logs: no line per request, and the setup code with the URL to open", async () => {
    const dataDir = join(dir, "json");
    const serve = await startServe(["--data-dir", dataDir, ...calm]);
    const statuses = await twentyRequests(serve.url);
    expect(statuses).toContain(200);
    expect(statuses).toContain(401);
    expect(statuses).toContain(404);
    expect(await serve.stop("SIGTERM")).toBe(0);

    const lines = serve.logs().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    // Every request-bound line carries the request id: there must be none at info.
    expect(lines.filter((l) => "reqId" in l)).toEqual([]);
    expect(lines.length).toBeLessThan(15);
    const code = readFileSync(join(dataDir, "setup-code"), "utf8").trim();
    const port = new URL(serve.url).port;
    const banner = lines.filter((l) => String(l.msg).includes(code) && String(l.msg).includes(`http://localhost:${port}/`));
    expect(banner).toHaveLength(1);
    expect(banner[0]).toMatchObject({ level: 40 });
  });

  it("on a terminal (pretty logs): the framed banner, and no request lines", async () => {
    const dataDir = join(dir, "pretty");
    const child = spawn(process.execPath, [cliPath, "serve", "--port", "0", "--log-format", "pretty", "--data-dir", dataDir, ...calm], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      // The banner names the URL to open; it is the readiness signal too.
      const base = await new Promise<string>((resolve, reject) => {
        const check = () => {
          const m = /║\s+(http:\/\/localhost:\d+)\/\s+║/.exec(out);
          if (m?.[1]) resolve(m[1]);
        };
        child.stdout.on("data", check);
        void exited.then((c) => reject(new Error(`serve exited with ${c}:\n${out}`)));
      });
      await twentyRequests(base);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    const code = readFileSync(join(dataDir, "setup-code"), "utf8").trim();
    expect(out).toMatch(/╔═+╗/);
    expect(out).toContain(`Setup code:  ${code}`);
    expect(out).not.toMatch(/incoming request|request completed|"?reqId"?/);
    expect(out).not.toMatch(/GET \/|\/api\/status|\/healthz/);
    // Startup, serving, the banner, shutdown: a screenful at most.
    expect(out.split("\n").length).toBeLessThan(60);
  });
});
