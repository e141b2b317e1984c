import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Database, type Migration } from "../../services/db/Database.js";
import { lastRestoreReport, onVersionChange, recordVersion } from "../../services/db/versionSnapshot.js";

let dir: string;
const path = (): string => join(dir, "sovereign.db");
const open = (): Database => Database.open(path());

const v1: Migration[] = [{ version: 1, name: "notes", up: (db) => db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)") }];
const v2: Migration[] = [...v1, { version: 2, name: "tags", up: (db) => db.exec("ALTER TABLE notes ADD COLUMN tag TEXT; CREATE TABLE tags (name TEXT PRIMARY KEY)") }];

/** One start of the node at `version`: the version-change hook, the migrations, then "ready". */
async function start(version: string, migrations: Migration[]): Promise<{ db: Database; kind: string }> {
  const { db, report } = await onVersionChange(open(), dir, version, open);
  db.migrate("notes", migrations);
  recordVersion(db, dir, version);
  return { db, kind: report.kind };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sovereign-dbsnap-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("database snapshots across versions", () => {
  it("snapshots before the newer version migrates; a rollback restores it, keeps the newer file aside and names what was not carried back", async () => {
    let s = await start("0.1.0", v1);
    expect(s.kind).toBe("first-run");
    s.db.sqlite.prepare("INSERT INTO notes (text) VALUES (?)").run("before the update");
    s.db.close();

    s = await start("0.2.0", v2);
    expect(s.kind).toBe("snapshot-taken");
    expect(existsSync(join(dir, "db-snapshots", "snapshot-0.1.0-to-0.2.0.sqlite"))).toBe(true);
    s.db.sqlite.prepare("INSERT INTO notes (text, tag) VALUES (?, ?)").run("after the update", "x");
    s.db.sqlite.prepare("INSERT INTO tags (name) VALUES (?)").run("x");
    s.db.close();

    // The old version comes back: its migrations stop at 1, the file is at 2.
    s = await start("0.1.0", v1);
    expect(s.kind).toBe("restored");
    const rows = s.db.sqlite.prepare("SELECT text FROM notes").all();
    expect(rows).toEqual([{ text: "before the update" }]);
    expect(s.db.version("notes")).toBe(1);
    s.db.close();
    const report = lastRestoreReport(dir);
    expect(report?.notCarriedBack).toEqual([{ table: "notes", rows: 1 }, { table: "tags", rows: 1 }]);
    expect(report?.summary).toContain("1 in notes");
    expect(report?.keptAside && existsSync(report.keptAside)).toBe(true);
    const kept = new Database(report?.keptAside ?? "", { readonly: true });
    expect(kept.sqlite.prepare("SELECT COUNT(*) AS n FROM notes").get()).toEqual({ n: 2 });
    kept.close();
  });

  it("keeps everything when the newer version did not change the schema", async () => {
    (await start("0.1.0", v1)).db.close();
    const s = await start("0.1.1", v1);
    s.db.sqlite.prepare("INSERT INTO notes (text) VALUES (?)").run("written by 0.1.1");
    s.db.close();
    const back = await start("0.1.0", v1);
    expect(back.kind).toBe("older-compatible");
    expect(back.db.sqlite.prepare("SELECT text FROM notes").all()).toEqual([{ text: "written by 0.1.1" }]);
    back.db.close();
    expect(lastRestoreReport(dir)).toBeNull();
  });
});
