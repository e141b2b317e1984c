import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Database } from "../../services/db/Database.js";
import { repoRoot } from "../helpers/cli.js";

const KILLS = 50;
const dir = mkdtempSync(join(tmpdir(), "sovereign-kill9-"));
const dbPath = join(dir, "sovereign.db");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The child opens the database the way the node does (Database.open, memory migrations),
// inserts memories (rows + tags + FTS index, through the triggers) one transaction at a time,
// and prints each id only after its commit returned: an acknowledged write.
const child = `
const { Database } = await import(${JSON.stringify(join(repoRoot, "services/db/Database.ts"))});
const { memoryMigrations } = await import(${JSON.stringify(join(repoRoot, "services/memory/migrations.ts"))});
const { MemoryStore } = await import(${JSON.stringify(join(repoRoot, "services/memory/MemoryStore.ts"))});
const db = Database.open(process.argv[1]);
db.migrate("memory", memoryMigrations);
const store = new MemoryStore(db.sqlite);
process.stdout.write("ready\\n");
for (let i = 0; ; i++) {
  const [id] = store.insertMany([{ userId: "local", text: "row " + i + " " + "lorem ipsum dolor ".repeat(1 + (i % 20)), source: "kill9", tags: ["t" + (i % 5)] }]);
  process.stdout.write(id + "\\n");
}
`;

function runAndKill(afterAcks: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", child, dbPath], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    const acked: number[] = [];
    let buf = "";
    let err = "";
    let killed = false;
    p.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line !== "ready") acked.push(Number(line));
      }
      if (!killed && acked.length >= afterAcks) {
        killed = true;
        p.kill("SIGKILL");
      }
    });
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("exit", (_code, signal) => (signal === "SIGKILL" ? resolve(acked) : reject(new Error(`child exited without being killed: ${err}`))));
  });
}

describe("kill -9 while writing", () => {
  it(`loses no acknowledged row and stays intact over ${KILLS} kills`, async () => {
    const allAcked: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      // Vary the moment of the kill: after 1..~400 acknowledged commits.
      const acked = await runAndKill(1 + ((k * 37) % 400));
      allAcked.push(...acked);
      const db = Database.open(dbPath);
      try {
        expect(db.integrityCheck(), `integrity after kill ${k + 1}`).toEqual([]);
        db.sqlite.prepare("INSERT INTO memories_fts (memories_fts) VALUES ('integrity-check')").run();
        const present = new Set((db.sqlite.prepare("SELECT id FROM memories").raw().all() as Array<[number]>).map((r) => r[0]));
        const lost = allAcked.filter((id) => !present.has(id));
        expect(lost, `acknowledged rows lost after kill ${k + 1}`).toEqual([]);
      } finally {
        db.close();
      }
    }
    expect(allAcked.length).toBeGreaterThan(KILLS);
  }, 900_000);
});
