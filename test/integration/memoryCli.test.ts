import BetterSqlite3 from "better-sqlite3";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/cli.js";
import { NodeIdentity } from "../../services/identity/NodeIdentity.js";

let dir: string;
let dataDir: string;

/** Runs the CLI from source (tsx), so the test does not depend on a build of the whole tree. */
function cli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(repoRoot, "appliance", "cli", "main.ts"), ...args, "--data-dir", dataDir], {
    cwd: repoRoot,
    encoding: "utf8",
    input,
    timeout: 120_000,
    env: { ...process.env, SOVEREIGN_LOG_LEVEL: "silent" },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sovereign-memcli-"));
  dataDir = join(dir, "data");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("sovereign memory / backup / restore / jobs", () => {
  it("adds notes, imports Markdown, refuses invalid UTF-8, and finds words at once", () => {
    const add = cli(["memory", "add", "the", "spare", "key", "is", "under", "the", "blue", "pot", "--tags", "house", "--json"]);
    expect(add.status, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ chunks: 1 });
    const stdin = cli(["memory", "add", "--json"], "piped note about the garden shed");
    expect(stdin.status, stdin.stderr).toBe(0);

    const md = join(dir, "manual.md");
    writeFileSync(md, `# Heating\n\nThe boiler is in the cellar.\n\n## Service\n\n${"Call the installer each autumn. ".repeat(80)}\n`);
    const imp = cli(["memory", "import", md, "--json"]);
    expect(imp.status, imp.stderr).toBe(0);
    expect(JSON.parse(imp.stdout).chunks).toBeGreaterThan(1);

    const bad = join(dir, "bad.txt");
    writeFileSync(bad, Buffer.from([0x61, 0xff, 0xfe, 0x62]));
    const r = cli(["memory", "import", bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("not valid UTF-8");

    const s = cli(["memory", "search", "boiler", "cellar", "--json"]);
    expect(s.status, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout).hits[0].memory.source).toBe("manual.md");
    const odd = cli(["memory", "search", '"NEAR(', "x*-y", "--json"]);
    expect(odd.status, odd.stderr).toBe(0);
  });

  it("exports and re-imports JSON lines", () => {
    const out = join(dir, "export.jsonl");
    const e = cli(["memory", "export", "--out", out]);
    expect(e.status, e.stderr).toBe(0);
    const before = JSON.parse(cli(["memory", "search", "spare", "key", "--json"]).stdout).hits.length;
    const i = cli(["memory", "import", out, "--json"]);
    expect(i.status, i.stderr).toBe(0);
    expect(JSON.parse(i.stdout).memories).toBeGreaterThan(2);
    expect(JSON.parse(cli(["memory", "search", "spare", "key", "--json"]).stdout).hits.length).toBe(before * 2);
  });

  it("backs up, lists, and restores; refuses corrupt and newer-schema files", () => {
    const b = cli(["backup", "--json"]);
    expect(b.status, b.stderr).toBe(0);
    const backup = JSON.parse(b.stdout) as { path: string; integrity: string };
    expect(backup.integrity).toBe("ok");
    const list = JSON.parse(cli(["backup", "list", "--json"]).stdout) as Array<{ path: string }>;
    expect(list.map((x) => x.path)).toContain(backup.path);

    const junk = join(dir, "junk.db");
    writeFileSync(junk, Buffer.alloc(8192, 7));
    const r1 = cli(["restore", junk]);
    expect(r1.status).toBe(2);
    expect(r1.stderr).toMatch(/not a sound SQLite database/);

    const newer = join(dir, "newer.db");
    const db = new BetterSqlite3(newer);
    db.exec("CREATE TABLE schema_migrations (owner TEXT, version INTEGER, name TEXT, applied_at TEXT); INSERT INTO schema_migrations VALUES ('memory', 999, 'future', 'x')");
    db.close();
    const r2 = cli(["restore", newer]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/newer than this software knows/);

    cli(["memory", "add", "written after the backup"]);
    // A node that has run has a key and an audit log: the restore must land in it and keep it verifiable.
    NodeIdentity.loadOrCreate(dataDir);
    const r3 = cli(["restore", backup.path, "--json"]);
    expect(r3.status, r3.stderr).toBe(0);
    const restored = JSON.parse(r3.stdout) as { previous: string };
    expect(existsSync(restored.previous)).toBe(true);
    expect(JSON.parse(cli(["memory", "search", "written", "after", "--json"]).stdout).hits).toEqual([]);
    expect(JSON.parse(cli(["memory", "search", "spare", "key", "--json"]).stdout).hits.length).toBeGreaterThan(0);
    const verify = cli(["audit", "verify", "--json"]);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    const audit = new BetterSqlite3(join(dataDir, "sovereign.db"), { readonly: true });
    const last = audit.prepare("SELECT type, actor FROM audit_events ORDER BY seq DESC LIMIT 1").get();
    audit.close();
    expect(last).toEqual({ type: "db.restored", actor: "console" });
  });

  it("lists, pauses, resumes and runs jobs", () => {
    const run = cli(["jobs", "run", "db-checkpoint", "--json"]);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ job: "db-checkpoint", outcome: "ok", trigger: "manual" });
    expect(cli(["jobs", "pause", "db-backup"]).status).toBe(0);
    const list = JSON.parse(cli(["jobs", "list", "--json"]).stdout) as Array<{ name: string; paused: boolean }>;
    expect(list.find((j) => j.name === "db-backup")?.paused).toBe(true);
    expect(list.map((j) => j.name)).toEqual(expect.arrayContaining(["db-backup", "db-checkpoint", "memory-summarize", "model-integrity"]));
    expect(cli(["jobs", "resume", "db-backup"]).status).toBe(0);
    const runs = JSON.parse(cli(["jobs", "runs", "db-checkpoint", "--json"]).stdout) as Array<{ outcome: string }>;
    expect(runs[0]?.outcome).toBe("ok");
    const missing = cli(["jobs", "pause", "no-such-job"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("No job named");
  });
});
