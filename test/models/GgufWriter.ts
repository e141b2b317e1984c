import { closeSync, openSync, renameSync, writeSync } from "node:fs";
import { ggmlTypes } from "../../core/gguf/ggmlTypes.js";

/** A metadata value with its GGUF type made explicit. */
export type GgufKv =
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "string[]"; value: readonly string[] }
  | { type: "f32[]"; value: ArrayLike<number> }
  | { type: "i32[]"; value: ArrayLike<number> };

export interface GgufTensorSpec {
  name: string;
  /** ggml order: the first dimension is the contiguous one. */
  dims: number[];
  type: number;
  /** Fills `out` (exactly the tensor's bytes, written in pieces for big tensors) from byte `start` of the tensor. */
  fill(out: Buffer, start: number): void;
}

const ALIGN = 32;

function kvBytes(key: string, kv: GgufKv): Buffer[] {
  const parts: Buffer[] = [strBytes(key)];
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  const u64 = (n: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
  switch (kv.type) {
    case "u32": parts.push(u32(4), u32(kv.value)); break;
    case "i32": { const b = Buffer.alloc(4); b.writeInt32LE(kv.value); parts.push(u32(5), b); break; }
    case "f32": { const b = Buffer.alloc(4); b.writeFloatLE(kv.value); parts.push(u32(6), b); break; }
    case "bool": parts.push(u32(7), Buffer.from([kv.value ? 1 : 0])); break;
    case "string": parts.push(u32(8), strBytes(kv.value)); break;
    case "string[]": parts.push(u32(9), u32(8), u64(kv.value.length), ...kv.value.map(strBytes)); break;
    case "f32[]": { const b = Buffer.alloc(kv.value.length * 4); for (let i = 0; i < kv.value.length; i++) b.writeFloatLE(kv.value[i] ?? 0, i * 4); parts.push(u32(9), u32(6), u64(kv.value.length), b); break; }
    case "i32[]": { const b = Buffer.alloc(kv.value.length * 4); for (let i = 0; i < kv.value.length; i++) b.writeInt32LE(kv.value[i] ?? 0, i * 4); parts.push(u32(9), u32(5), u64(kv.value.length), b); break; }
  }
  return parts;
}

function strBytes(s: string): Buffer {
  const body = Buffer.from(s, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([len, body]);
}

export function tensorBytes(t: Pick<GgufTensorSpec, "dims" | "type">): number {
  const info = ggmlTypes[t.type];
  if (!info) throw new Error(`unknown ggml type ${t.type}`);
  const elements = t.dims.reduce((a, b) => a * b, 1);
  return (elements / info.blockSize) * info.blockBytes;
}

/**
 * Writes a GGUF v3 file: header, metadata, tensor infos, then aligned tensor
 * data produced piece by piece, so a 600 MB model never sits in memory. The
 * file appears under `path` only when complete (written to `path.part`, then renamed).
 */
export function writeGguf(path: string, metadata: Record<string, GgufKv>, tensors: GgufTensorSpec[]): void {
  const head: Buffer[] = [];
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  const u64 = (n: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
  head.push(Buffer.from("GGUF", "latin1"), u32(3), u64(tensors.length), u64(Object.keys(metadata).length));
  for (const [k, v] of Object.entries(metadata)) head.push(...kvBytes(k, v));
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    offsets.push(offset);
    head.push(strBytes(t.name), u32(t.dims.length), ...t.dims.map(u64), u32(t.type), u64(offset));
    offset += Math.ceil(tensorBytes(t) / ALIGN) * ALIGN;
  }
  let header = Buffer.concat(head);
  const padded = Math.ceil(header.length / ALIGN) * ALIGN;
  header = Buffer.concat([header, Buffer.alloc(padded - header.length)]);

  const tmp = `${path}.${process.pid}.part`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, header);
    tensors.forEach((t) => {
      const total = tensorBytes(t);
      // Whole blocks per piece, so fill() never sees half a quantized block.
      const blockBytes = ggmlTypes[t.type]?.blockBytes ?? 1;
      const piece = Math.floor((8 << 20) / blockBytes) * blockBytes;
      for (let start = 0; start < total; start += piece) {
        const buf = Buffer.alloc(Math.min(piece, total - start));
        t.fill(buf, start);
        writeSync(fd, buf);
      }
      const pad = Math.ceil(total / ALIGN) * ALIGN - total;
      if (pad > 0) writeSync(fd, Buffer.alloc(pad));
    });
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
