import { mkdtempSync, openSync, rmSync, writeSync, closeSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Database } from "../../services/db/Database.js";
import { memoryMigrations } from "../../services/memory/migrations.js";
import { MemoryStore } from "../../services/memory/MemoryStore.js";
import { buildTestApp } from "../helpers/testApp.js";

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "sovereign-corrupt-"));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

function populate(): string {
  const path = join(dataDir, "sovereign.db");
  const db = Database.open(path);
  db.migrate("memory", memoryMigrations);
  new MemoryStore(db.sqlite).insertMany(Array.from({ length: 400 }, (_, i) => ({ userId: "u", text: `memory ${i} ${"text ".repeat(50)}`, source: "s" })));
  db.checkpoint("TRUNCATE");
  db.close();
  return path;
}

describe("a corrupt database at start", () => {
  it("stops the boot with DB_CORRUPT naming the restore path, and leaves the file as it was", async () => {
    const path = populate();
    const size = readFileSync(path).length;
    // Damage b-tree pages in the middle of the file (the header stays valid).
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.alloc(4096 * 3, 0xa5), 0, 4096 * 3, Math.floor(size / 2 / 4096) * 4096);
    closeSync(fd);
    const damaged = readFileSync(path);
    const err = await buildTestApp({}, { dataDir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "DB_CORRUPT" });
    expect((err as Error).message).toContain(join(dataDir, "backups"));
    expect((err as { hint: string }).hint).toContain("sovereign restore");
    expect(((err as { details: { problems: string[] } }).details.problems.length)).toBeGreaterThan(0);
    expect(readFileSync(path).equals(damaged)).toBe(true);
  });

  it("refuses a file that is not a database at all", () => {
    const path = join(dataDir, "sovereign.db");
    writeFileSync(path, Buffer.alloc(16_384, 0x42));
    expect(() => Database.open(path, { backupDir: join(dataDir, "backups") })).toThrow(expect.objectContaining({ code: "DB_CORRUPT" }));
    expect(readFileSync(path).every((b) => b === 0x42)).toBe(true);
  });
});
