import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { SovereignError } from "../errors/SovereignError.js";
import { ggmlTypes } from "./ggmlTypes.js";

/** A metadata value. Arrays longer than `keepArraysUpTo` are summarised as `{ arrayType, length }`. */
export type GgufValue = number | bigint | boolean | string | GgufValue[] | { arrayType: number; length: number };

export interface GgufTensor {
  name: string;
  dims: number[];
  type: number;
  /** Offset from the start of the data section. */
  offset: number;
  bytes: number;
  elements: number;
}

export interface GgufInfo {
  version: number;
  fileSize: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensor[];
  alignment: number;
  dataOffset: number;
}

export interface ReadGgufOptions {
  /** Keep arrays with at most this many items; longer ones become summaries. Defaults to 64. */
  keepArraysUpTo?: number;
}

/** Sanity bounds: generous for real models, small enough that a hostile header cannot make us allocate wildly. */
const MAX_STRING = 64 * 1024 * 1024;
const MAX_KV = 1_000_000;
const MAX_TENSORS = 1_000_000;
const MAX_DIMS = 4;
const CHUNK = 1 << 20;

function invalid(message: string, details: Record<string, unknown> = {}): SovereignError {
  return new SovereignError("MODEL_INVALID", `Invalid GGUF: ${message}`, { details });
}

/** Reads a file forward in chunks, so a 4 GB model's header costs a few MiB, not the file. */
class Cursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  constructor(private readonly fd: number, readonly size: number) {}

  private need(n: number, what: string): void {
    if (this.pos + n > this.size) throw invalid(`file ends inside ${what}`, { offset: this.pos, needed: n, fileSize: this.size });
    const end = this.pos + n;
    if (this.pos >= this.bufStart && end <= this.bufStart + this.buf.length) return;
    const len = Math.min(Math.max(n, CHUNK), this.size - this.pos);
    this.buf = Buffer.alloc(len);
    readSync(this.fd, this.buf, 0, len, this.pos);
    this.bufStart = this.pos;
  }
  private at(): number {
    return this.pos - this.bufStart;
  }
  u8(what: string): number { this.need(1, what); const v = this.buf.readUInt8(this.at()); this.pos += 1; return v; }
  i8(what: string): number { this.need(1, what); const v = this.buf.readInt8(this.at()); this.pos += 1; return v; }
  u16(what: string): number { this.need(2, what); const v = this.buf.readUInt16LE(this.at()); this.pos += 2; return v; }
  i16(what: string): number { this.need(2, what); const v = this.buf.readInt16LE(this.at()); this.pos += 2; return v; }
  u32(what: string): number { this.need(4, what); const v = this.buf.readUInt32LE(this.at()); this.pos += 4; return v; }
  i32(what: string): number { this.need(4, what); const v = this.buf.readInt32LE(this.at()); this.pos += 4; return v; }
  f32(what: string): number { this.need(4, what); const v = this.buf.readFloatLE(this.at()); this.pos += 4; return v; }
  f64(what: string): number { this.need(8, what); const v = this.buf.readDoubleLE(this.at()); this.pos += 8; return v; }
  u64(what: string): bigint { this.need(8, what); const v = this.buf.readBigUInt64LE(this.at()); this.pos += 8; return v; }
  i64(what: string): bigint { this.need(8, what); const v = this.buf.readBigInt64LE(this.at()); this.pos += 8; return v; }
  /** A u64 count that must fit a JS number and stay under `max`. */
  count(what: string, max: number): number {
    const v = this.u64(what);
    if (v > BigInt(max)) throw invalid(`${what} is ${v}, above the limit ${max}`, { offset: this.pos - 8, actual: v.toString(), max });
    return Number(v);
  }
  str(what: string): string {
    const len = this.count(`${what} length`, Math.min(MAX_STRING, this.size));
    this.need(len, what);
    const s = this.buf.toString("utf8", this.at(), this.at() + len);
    this.pos += len;
    return s;
  }
}

const SCALAR_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

function readScalar(c: Cursor, type: number, what: string): GgufValue {
  switch (type) {
    case 0: return c.u8(what);
    case 1: return c.i8(what);
    case 2: return c.u16(what);
    case 3: return c.i16(what);
    case 4: return c.u32(what);
    case 5: return c.i32(what);
    case 6: return c.f32(what);
    case 7: {
      const b = c.u8(what);
      if (b > 1) throw invalid(`${what} is a bool with value ${b}`, { offset: c.pos - 1 });
      return b === 1;
    }
    case 8: return c.str(what);
    case 10: return c.u64(what);
    case 11: return c.i64(what);
    case 12: return c.f64(what);
    default: throw invalid(`${what} has unknown value type ${type}`, { offset: c.pos, actual: type });
  }
}

function readValue(c: Cursor, type: number, what: string, keep: number): GgufValue {
  if (type !== 9) return readScalar(c, type, what);
  const itemType = c.u32(`${what} array type`);
  if (itemType === 9) throw invalid(`${what} is a nested array, which GGUF readers do not accept`, { offset: c.pos - 4 });
  const length = c.count(`${what} array length`, c.size);
  const fixed = SCALAR_SIZE[itemType];
  if (fixed !== undefined && length > keep) {
    // Skip without decoding, after checking it fits the file.
    if (c.pos + length * fixed > c.size) throw invalid(`${what} array runs past the end of the file`, { offset: c.pos, length });
    c.pos += length * fixed;
    return { arrayType: itemType, length };
  }
  if (fixed === undefined && itemType !== 8) throw invalid(`${what} has unknown array item type ${itemType}`, { offset: c.pos, actual: itemType });
  const items: GgufValue[] = [];
  for (let i = 0; i < length; i++) {
    const v = readScalar(c, itemType, `${what}[${i}]`);
    if (length <= keep) items.push(v);
  }
  return length <= keep ? items : { arrayType: itemType, length };
}

/**
 * Reads and strictly validates a GGUF file's header before llama.cpp sees it:
 * magic, version, counts, every metadata value, every tensor's type, shape and
 * byte range inside the file, alignment and overlaps. Throws MODEL_INVALID with
 * the expected and actual values on the first problem.
 */
export function readGguf(path: string, options: ReadGgufOptions = {}): GgufInfo {
  const keep = options.keepArraysUpTo ?? 64;
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const c = new Cursor(fd, size);
    if (size < 24) throw invalid(`file is ${size} bytes, shorter than a GGUF header`, { actual: size, expected: ">= 24" });
    const magic = c.u32("magic");
    if (magic !== 0x46554747) throw invalid("wrong magic (this is not a GGUF file)", { expected: "GGUF", actual: Buffer.from([magic & 255, (magic >> 8) & 255, (magic >> 16) & 255, magic >>> 24]).toString("latin1") });
    const version = c.u32("version");
    if (version !== 2 && version !== 3) throw invalid(`unsupported version ${version}`, { expected: [2, 3], actual: version });
    const tensorCount = c.count("tensor count", MAX_TENSORS);
    const kvCount = c.count("metadata count", MAX_KV);

    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = c.str(`metadata key #${i}`);
      if (key.length === 0) throw invalid(`metadata key #${i} is empty`, { offset: c.pos });
      if (metadata.has(key)) throw invalid(`metadata key "${key}" appears twice`, { key });
      const type = c.u32(`metadata "${key}" type`);
      metadata.set(key, readValue(c, type, `metadata "${key}"`, keep));
    }

    const alignValue = metadata.get("general.alignment");
    const alignment = alignValue === undefined ? 32 : Number(alignValue);
    if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0 || alignment > 1 << 20)
      throw invalid(`general.alignment ${String(alignValue)} is not a power of two`, { actual: String(alignValue) });

    const tensors: GgufTensor[] = [];
    const names = new Set<string>();
    for (let i = 0; i < tensorCount; i++) {
      const name = c.str(`tensor #${i} name`);
      if (names.has(name)) throw invalid(`tensor "${name}" appears twice`, { tensor: name });
      names.add(name);
      const nDims = c.u32(`tensor "${name}" dimension count`);
      if (nDims < 1 || nDims > MAX_DIMS) throw invalid(`tensor "${name}" has ${nDims} dimensions`, { tensor: name, expected: `1..${MAX_DIMS}`, actual: nDims });
      const dims: number[] = [];
      let elements = 1;
      for (let d = 0; d < nDims; d++) {
        const dim = c.count(`tensor "${name}" dimension ${d}`, size * 8);
        if (dim === 0) throw invalid(`tensor "${name}" has a zero dimension`, { tensor: name });
        dims.push(dim);
        elements *= dim;
        if (elements > size * 8) throw invalid(`tensor "${name}" has more elements than the file could hold`, { tensor: name, dims });
      }
      const type = c.u32(`tensor "${name}" type`);
      const t = ggmlTypes[type];
      if (!t) throw invalid(`tensor "${name}" has unknown ggml type ${type}`, { tensor: name, actual: type });
      if ((dims[0] ?? 0) % t.blockSize !== 0)
        throw invalid(`tensor "${name}" row of ${dims[0]} is not a multiple of ${t.name}'s block of ${t.blockSize}`, { tensor: name, dims, type: t.name });
      const offsetBig = c.u64(`tensor "${name}" offset`);
      if (offsetBig > BigInt(size)) throw invalid(`tensor "${name}" starts past the end of the file`, { tensor: name, offset: offsetBig.toString(), fileSize: size });
      const offset = Number(offsetBig);
      if (offset % alignment !== 0) throw invalid(`tensor "${name}" offset ${offset} is not aligned to ${alignment}`, { tensor: name, offset, alignment });
      tensors.push({ name, dims, type, offset, bytes: (elements / t.blockSize) * t.blockBytes, elements });
    }

    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    const dataSize = size - dataOffset;
    if (dataSize < 0 && tensorCount > 0) throw invalid("file ends before the tensor data", { expected: dataOffset, actual: size });
    const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
    let prevEnd = 0;
    let prevName = "";
    for (const t of sorted) {
      if (t.offset < prevEnd) throw invalid(`tensors "${prevName}" and "${t.name}" overlap`, { tensor: t.name, offset: t.offset, previousEnd: prevEnd });
      const end = t.offset + t.bytes;
      if (end > dataSize)
        throw invalid(`tensor "${t.name}" (${t.bytes} bytes at data offset ${t.offset}) runs past the end of the file (truncated?)`, {
          tensor: t.name, expectedFileSize: dataOffset + end, actualFileSize: size,
        });
      prevEnd = end;
      prevName = t.name;
    }
    return { version, fileSize: size, metadata, tensors, alignment, dataOffset };
  } finally {
    closeSync(fd);
  }
}
