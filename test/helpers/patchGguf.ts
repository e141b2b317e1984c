import { readFileSync, writeFileSync } from "node:fs";

/**
 * Corrupted model variants for the fault tests: rewrites one scalar metadata
 * value of a real GGUF file in place (same type, same size), so the file stays
 * structurally valid and only describes an impossible model.
 */

const SCALAR_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

interface KvAt {
  type: number;
  offset: number;
}

/** Where each scalar metadata value sits in the file (header walk, no validation: the file is ours). */
export function ggufValueOffsets(buf: Buffer): Map<string, KvAt> {
  let pos = 8; // magic + version
  const tensorCount = Number(buf.readBigUInt64LE(pos));
  const kvCount = Number(buf.readBigUInt64LE(pos + 8));
  void tensorCount;
  pos += 16;
  const str = (): string => {
    const len = Number(buf.readBigUInt64LE(pos));
    const s = buf.toString("utf8", pos + 8, pos + 8 + len);
    pos += 8 + len;
    return s;
  };
  const skip = (type: number): void => {
    if (type === 8) str();
    else pos += SCALAR_SIZE[type] ?? 0;
  };
  const out = new Map<string, KvAt>();
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    const type = buf.readUInt32LE(pos);
    pos += 4;
    if (type === 9) {
      const itemType = buf.readUInt32LE(pos);
      const n = Number(buf.readBigUInt64LE(pos + 4));
      pos += 12;
      for (let j = 0; j < n; j++) skip(itemType);
      continue;
    }
    out.set(key, { type, offset: pos });
    skip(type);
  }
  return out;
}

/** Copies `src` to `dest` with the scalar `key` set to `value` (written in the key's own type). */
export function patchGgufKv(src: string, dest: string, key: string, value: number): string {
  const buf = readFileSync(src);
  const at = ggufValueOffsets(buf).get(key);
  if (!at) throw new Error(`${src} has no scalar key ${key}`);
  switch (at.type) {
    case 0: buf.writeUInt8(value, at.offset); break;
    case 1: buf.writeInt8(value, at.offset); break;
    case 2: buf.writeUInt16LE(value, at.offset); break;
    case 3: buf.writeInt16LE(value, at.offset); break;
    case 4: buf.writeUInt32LE(value >>> 0, at.offset); break;
    case 5: buf.writeInt32LE(value, at.offset); break;
    case 6: buf.writeFloatLE(value, at.offset); break;
    case 10: buf.writeBigUInt64LE(BigInt(value), at.offset); break;
    case 11: buf.writeBigInt64LE(BigInt(value), at.offset); break;
    case 12: buf.writeDoubleLE(value, at.offset); break;
    default: throw new Error(`${key} has type ${at.type}, not a number`);
  }
  writeFileSync(dest, buf);
  return dest;
}

/** A metadata value to add: GGUF's u32, f32, bool or string. */
export type ExtraKv = { type: "u32"; value: number } | { type: "f32"; value: number } | { type: "bool"; value: boolean } | { type: "string"; value: string };

function kvBytes(key: string, kv: ExtraKv): Buffer {
  const s = (v: string) => { const b = Buffer.from(v, "utf8"); const l = Buffer.alloc(8); l.writeBigUInt64LE(BigInt(b.length)); return Buffer.concat([l, b]); };
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  switch (kv.type) {
    case "u32": return Buffer.concat([s(key), u32(4), u32(kv.value)]);
    case "f32": { const b = Buffer.alloc(4); b.writeFloatLE(kv.value); return Buffer.concat([s(key), u32(6), b]); }
    case "bool": return Buffer.concat([s(key), u32(7), Buffer.from([kv.value ? 1 : 0])]);
    case "string": return Buffer.concat([s(key), u32(8), s(kv.value)]);
  }
}

/**
 * Copies `src` to `dest` with extra metadata keys appended. Tensor infos and
 * data are kept byte for byte (their offsets are relative to the data section,
 * which is re-aligned after the longer header).
 */
export function addGgufKvs(src: string, dest: string, extra: Record<string, ExtraKv>): string {
  const buf = readFileSync(src);
  const offsets = ggufValueOffsets(buf);
  const kvCount = Number(buf.readBigUInt64LE(16));
  const tensorCount = Number(buf.readBigUInt64LE(8));
  // The end of the metadata: walk the tensor infos from there to find the data section.
  let kvEnd = 24;
  {
    let pos = 24;
    const str = () => { const len = Number(buf.readBigUInt64LE(pos)); pos += 8 + len; };
    for (let i = 0; i < kvCount; i++) {
      str();
      const type = buf.readUInt32LE(pos); pos += 4;
      const one = (t: number) => { if (t === 8) str(); else pos += SCALAR_SIZE[t] ?? 0; };
      if (type === 9) { const it = buf.readUInt32LE(pos); const n = Number(buf.readBigUInt64LE(pos + 4)); pos += 12; for (let j = 0; j < n; j++) one(it); } else one(type);
    }
    kvEnd = pos;
  }
  let pos = kvEnd;
  for (let i = 0; i < tensorCount; i++) {
    pos += 8 + Number(buf.readBigUInt64LE(pos));
    const nd = buf.readUInt32LE(pos);
    pos += 4 + nd * 8 + 4 + 8;
  }
  const infosEnd = pos;
  const alignAt = offsets.get("general.alignment");
  const align = alignAt ? buf.readUInt32LE(alignAt.offset) : 32;
  const dataStart = Math.ceil(infosEnd / align) * align;
  const head = Buffer.from(buf.subarray(0, 24));
  head.writeBigUInt64LE(BigInt(kvCount + Object.keys(extra).length), 16);
  const added = Object.entries(extra).map(([k, v]) => kvBytes(k, v));
  const header = Buffer.concat([head, buf.subarray(24, kvEnd), ...added, buf.subarray(kvEnd, infosEnd)]);
  const pad = Buffer.alloc(Math.ceil(header.length / align) * align - header.length);
  writeFileSync(dest, Buffer.concat([header, pad, buf.subarray(dataStart)]));
  return dest;
}
