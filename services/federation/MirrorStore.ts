import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { BackupChunkBody, MirrorBundle, MirroredBackup } from "./backupMirror.js";
import type { WrappedKey } from "./backupCrypto.js";

const NODE_ID = /^[a-z2-7]{26}$/;
const BACKUP_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface MirrorMeta extends MirroredBackup {
  receivedAt: number;
}

export interface MirrorInfo extends MirrorMeta {
  chunks: number;
  complete: boolean;
}

export function mirrorDirOf(dataDir: string): string {
  return join(dataDir, "federation", "mirrors");
}

function isChunkBody(b: unknown): b is BackupChunkBody {
  const c = b as Partial<BackupChunkBody> | null;
  const int = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  const s = c?.sealed;
  return (
    !!c && typeof c.backupId === "string" && BACKUP_ID.test(c.backupId) && typeof c.name === "string" && c.name.length <= 200 &&
    int(c.index) && int(c.total) && c.index! < c.total! && c.total! <= 1_000_000 && int(c.size) && int(c.createdAt) &&
    typeof c.sha256 === "string" && /^[0-9a-f]{64}$/.test(c.sha256) &&
    !!s && s.alg === "x25519-hkdf-sha256-aes256gcm-v2" && typeof s.nonce === "string" && typeof s.ciphertext === "string" && typeof s.tag === "string" &&
    Array.isArray(s.readers) && s.readers.length > 0 && s.readers.length <= 4 && s.readers.every(isWrappedKey)
  );
}

function isWrappedKey(w: unknown): boolean {
  const k = w as Partial<WrappedKey> | null;
  return !!k && [k.to, k.epk, k.nonce, k.wrapped, k.tag].every((v) => typeof v === "string" && v.length <= 128);
}

/**
 * The mirrored backups this node holds for its core peers, as files under
 * `<dataDir>/federation/mirrors/<owner>/<backupId>/`: meta.json and one
 * sealed chunk per file (0600). Only ciphertext at rest: the chunks are
 * sealed to their owner's key and ours, and are opened only on purpose. Kept outside the database so our own backups never
 * carry peers' backups, and bounded to the newest `keep` per owner.
 */
export class MirrorStore {
  constructor(readonly dir: string, private readonly keep: number) {}

  /** Stores one chunk from `owner`; false when it is not a well-formed chunk or disagrees with the backup's first chunk. */
  put(owner: string, body: unknown, now = Date.now()): boolean {
    if (!NODE_ID.test(owner) || !isChunkBody(body)) return false;
    const dir = join(this.dir, owner, body.backupId);
    const metaPath = join(dir, "meta.json");
    const meta: MirrorMeta = { owner, backupId: body.backupId, name: body.name, size: body.size, sha256: body.sha256, total: body.total, createdAt: body.createdAt, receivedAt: now };
    if (existsSync(metaPath)) {
      const cur = this.readMeta(metaPath);
      if (!cur || cur.sha256 !== meta.sha256 || cur.total !== meta.total || cur.size !== meta.size) return false;
    } else {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeAtomic(metaPath, JSON.stringify(meta));
      this.prune(owner, body.backupId);
    }
    writeAtomic(join(dir, `${body.index}.json`), JSON.stringify(body.sealed));
    return true;
  }

  /** Every held mirror, newest first. */
  list(owner?: string): MirrorInfo[] {
    const out: MirrorInfo[] = [];
    const owners = owner ? [owner] : existsSync(this.dir) ? readdirSync(this.dir).filter((n) => NODE_ID.test(n)) : [];
    for (const o of owners) {
      const odir = join(this.dir, o);
      if (!existsSync(odir)) continue;
      for (const id of readdirSync(odir).filter((n) => BACKUP_ID.test(n))) {
        const meta = this.readMeta(join(odir, id, "meta.json"));
        if (!meta) continue;
        const chunks = readdirSync(join(odir, id)).filter((n) => /^\d+\.json$/.test(n) && Number(n.slice(0, -5)) < meta.total).length;
        out.push({ ...meta, chunks, complete: chunks === meta.total });
      }
    }
    return out.sort((a, b) => b.createdAt - a.createdAt || b.receivedAt - a.receivedAt);
  }

  /** The sealed chunks of one complete mirror, for its owner to open. */
  bundle(owner: string, backupId: string): MirrorBundle {
    const info = NODE_ID.test(owner) && BACKUP_ID.test(backupId) ? this.list(owner).find((m) => m.backupId === backupId) : undefined;
    if (!info) throw new SovereignError("FED_MIRROR_NOT_FOUND", `No mirrored backup ${backupId} of node ${owner} is held here.`, { details: { owner, backupId } });
    if (!info.complete) throw new SovereignError("FED_MIRROR_INCOMPLETE", `${info.chunks} of ${info.total} chunks of backup ${backupId} have arrived.`, { details: { owner, backupId, chunks: info.chunks, total: info.total } });
    const dir = join(this.dir, owner, backupId);
    const chunks = Array.from({ length: info.total }, (_, i) => JSON.parse(readFileSync(join(dir, `${i}.json`), "utf8")) as MirrorBundle["chunks"][number]);
    return { format: "sovereign-backup-mirror", v: 1, owner, backupId, name: info.name, size: info.size, sha256: info.sha256, total: info.total, createdAt: info.createdAt, chunks };
  }

  /** Keeps the newest `keep` mirrors of an owner (the one arriving counts). */
  private prune(owner: string, arriving: string): void {
    const held = this.list(owner);
    const keepIds = new Set([arriving, ...held.filter((m) => m.backupId !== arriving).slice(0, this.keep - 1).map((m) => m.backupId)]);
    for (const m of held) if (!keepIds.has(m.backupId)) rmSync(join(this.dir, owner, m.backupId), { recursive: true, force: true });
  }

  private readMeta(path: string): MirrorMeta | undefined {
    try {
      const m = JSON.parse(readFileSync(path, "utf8")) as MirrorMeta;
      return typeof m.total === "number" && typeof m.sha256 === "string" && typeof m.createdAt === "number" ? m : undefined;
    } catch {
      return undefined;
    }
  }
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}
