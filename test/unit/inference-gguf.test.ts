import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readGguf } from "../../core/gguf/readGguf.js";
import { describeGguf } from "../../core/gguf/describeGguf.js";
import { writeGguf } from "../models/GgufWriter.js";
import { SovereignError } from "../../core/errors/SovereignError.js";

const dir = mkdtempSync(join(tmpdir(), "gguf-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function small(): Buffer {
  const p = join(dir, "small.gguf");
  writeGguf(p, {
    "general.architecture": { type: "string", value: "llama" },
    "general.file_type": { type: "u32", value: 0 },
    "llama.context_length": { type: "u32", value: 128 },
    "tokenizer.ggml.tokens": { type: "string[]", value: ["a", "b", "c"] },
  }, [
    { name: "a.weight", dims: [32, 4], type: 0, fill: (b) => b.fill(1) },
    { name: "b.weight", dims: [64], type: 8, fill: (b) => b.fill(0) },
  ]);
  return readFileSync(p);
}

function check(bytes: Buffer): SovereignError | null {
  const p = join(dir, `case-${Math.random()}.gguf`);
  writeFileSync(p, bytes);
  try {
    readGguf(p);
    return null;
  } catch (err) {
    if (err instanceof SovereignError) return err;
    throw err;
  } finally {
    rmSync(p);
  }
}

describe("readGguf: the strict validator", () => {
  it("reads a well-formed file and its summary", () => {
    const p = join(dir, "ok.gguf");
    writeFileSync(p, small());
    const info = readGguf(p);
    expect(info.version).toBe(3);
    expect(info.tensors.map((t) => [t.name, t.bytes])).toEqual([["a.weight", 512], ["b.weight", 68]]);
    expect(describeGguf(info)).toMatchObject({ architecture: "llama", quantization: "F32", contextLength: 128, parameters: 192, kind: "llm" });
  });

  it("refuses every truncation with MODEL_INVALID, never another error", () => {
    const good = small();
    const p = join(dir, "whole.gguf");
    writeFileSync(p, good);
    const info = readGguf(p);
    const needed = info.dataOffset + Math.max(...info.tensors.map((t) => t.offset + t.bytes)); // trailing padding may go
    for (let n = 0; n < needed; n += 7) {
      const e = check(good.subarray(0, n));
      expect(e?.code, `cut at ${n}`).toBe("MODEL_INVALID");
    }
  });

  it("refuses a wrong magic, an unknown version and absurd counts", () => {
    const good = small();
    const magic = Buffer.from(good); magic.write("GGML", 0, "latin1");
    expect(check(magic)?.message).toContain("magic");
    const version = Buffer.from(good); version.writeUInt32LE(99, 4);
    expect(check(version)?.message).toContain("version");
    const tensors = Buffer.from(good); tensors.writeBigUInt64LE(1n << 40n, 8);
    expect(check(tensors)?.message).toContain("tensor count");
    const kvs = Buffer.from(good); kvs.writeBigUInt64LE(1n << 62n, 16);
    expect(check(kvs)?.message).toContain("metadata count");
  });

  it("refuses a string length past the end, unknown value types and unknown tensor types", () => {
    const good = small();
    const len = Buffer.from(good); len.writeBigUInt64LE(1n << 50n, 24); // first key's length
    expect(check(len)?.code).toBe("MODEL_INVALID");
    const keyLen = good.readBigUInt64LE(24);
    const typeAt = 24 + 8 + Number(keyLen);
    const vt = Buffer.from(good); vt.writeUInt32LE(77, typeAt);
    expect(check(vt)?.message).toContain("unknown value type");
    const tt = Buffer.from(good);
    const at = tt.indexOf(Buffer.from("b.weight")) + 8 + 4 + 8; // name, n_dims, one dim
    tt.writeUInt32LE(250, at);
    expect(check(tt)?.message).toContain("unknown ggml type");
  });

  it("refuses tensors that overlap, are misaligned or run past the end", () => {
    const good = small();
    const at = good.indexOf(Buffer.from("b.weight")) + 8 + 4 + 8 + 4; // offset field
    const overlap = Buffer.from(good); overlap.writeBigUInt64LE(0n, at);
    expect(check(overlap)?.message).toContain("overlap");
    const mis = Buffer.from(good); mis.writeBigUInt64LE(513n, at);
    expect(check(mis)?.message).toContain("aligned");
    const past = Buffer.from(good); past.writeBigUInt64LE(1024n * 1024n, at);
    expect(check(past)?.code).toBe("MODEL_INVALID");
    const dims = Buffer.from(good);
    dims.writeBigUInt64LE(33n, good.indexOf(Buffer.from("b.weight")) + 8 + 4);
    expect(check(dims)?.message).toContain("block");
  });

  it("survives random corruption with MODEL_INVALID or a valid read", () => {
    const good = small();
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(good);
      for (let k = 0; k < 3; k++) b[Math.floor(rand() * 200)] = Math.floor(rand() * 256);
      const e = check(b);
      if (e) expect(e.code).toBe("MODEL_INVALID");
    }
  });
});
