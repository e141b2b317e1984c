import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/testApp.js";
import { as, buildAuthTestApp, claim, type Session } from "./authHelpers.js";

/** JSON text nested `n` deep, built as text: JSON.stringify itself overflows the stack on such values. */
export function deepObject(n: number): string {
  return `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;
}
export function deepArray(n: number): string {
  return `${"[".repeat(n)}1${"]".repeat(n)}`;
}

const now = new Date().toISOString();

/** Hostile input that once got a 500 (issue 16, finding 6): each is a clear 400 now, and nothing of it is stored. */
describe("hostile JSON: deep nesting, null lines and oversized imports are clear 400s", () => {
  let t: TestApp;
  let s: Session;
  beforeAll(async () => {
    t = await buildAuthTestApp();
    s = await claim(t.app, t.dataDir);
  });
  afterAll(async () => t?.close());

  const ndjson = (body: string) => t.app.inject({ method: "POST", url: "/api/memory/import", headers: { ...as(s), "content-type": "application/x-ndjson" }, payload: body });
  const codeOf = (res: { json(): unknown }) => (res.json() as { error: { code: string } }).error.code;

  it("a JSONL import with a null line (or any non-object line) is refused, naming the line", async () => {
    for (const line of ["null", "[]", "42", "\"text\""]) {
      const res = await ndjson(`${line}\n`);
      expect(res.statusCode, `${line}: ${res.body}`).toBe(400);
      expect(codeOf(res)).toBe("MEMORY_IMPORT_INVALID");
      expect((res.json() as { error: { details: { line: number } } }).error.details.line).toBe(1);
    }
  });

  it("a conversation whose message meta is nested 5,000 deep is refused, and nothing is imported", async () => {
    const conv = { type: "conversation", id: "deep-meta", userId: "u", title: "t", createdAt: now, updatedAt: now, messages: [{ role: "user", content: "hi", createdAt: now, meta: "DEEP" }] };
    const res = await ndjson(`${JSON.stringify(conv).replace('"DEEP"', deepObject(5000))}\n`);
    expect(res.statusCode, res.body).toBe(400);
    expect(["MEMORY_IMPORT_INVALID", "JSON_TOO_DEEP"]).toContain(codeOf(res));
    expect((await t.app.inject({ url: "/api/conversations/deep-meta", headers: as(s) })).statusCode).toBe(404);
  });

  it("imports take the API's caps: more than 32 tags, or a tag over 64 characters, is refused", async () => {
    const mem = (tags: string[]) => JSON.stringify({ type: "memory", userId: "u", text: "x", source: "s", kind: "note", tags, importance: 0.5, createdAt: now });
    for (const tags of [Array.from({ length: 10_000 }, (_, i) => `t${i}`), Array.from({ length: 33 }, (_, i) => `t${i}`), ["x".repeat(65)], [""]]) {
      const res = await ndjson(`${mem(tags)}\n`);
      expect(res.statusCode, res.body.slice(0, 200)).toBe(400);
      expect(codeOf(res)).toBe("MEMORY_IMPORT_INVALID");
    }
    const ok = await ndjson(`${mem(Array.from({ length: 32 }, (_, i) => `t${i}`))}\n`);
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it("the API refuses the same: a memory with 33 tags", async () => {
    const res = await t.app.inject({ method: "POST", url: "/api/memory", headers: as(s), payload: { text: "many tags", tags: Array.from({ length: 33 }, (_, i) => `t${i}`) } });
    expect(res.statusCode, res.body).toBe(400);
  });

  it("a short-term value nested 10,000 deep is refused with JSON_TOO_DEEP, before any handler", async () => {
    for (const value of [deepArray(10_000), deepObject(10_000)]) {
      const res = await t.app.inject({ method: "PUT", url: "/api/memory/short-term/s1", headers: { ...as(s), "content-type": "application/json" }, payload: `{"key":"k","value":${value}}` });
      expect(res.statusCode, res.body.slice(0, 200)).toBe(400);
      expect(codeOf(res)).toBe("JSON_TOO_DEEP");
    }
    const fine = await t.app.inject({ method: "PUT", url: "/api/memory/short-term/s1", headers: as(s), payload: { key: "k", value: { a: [1, { b: 2 }] } } });
    expect(fine.statusCode, fine.body).toBe(200);
  });

  it("every JSON route is covered: a deep body on the OpenAI API gets OpenAI's error shape with the same code", async () => {
    const res = await t.app.inject({ method: "POST", url: "/v1/chat/completions", headers: { ...as(s), "content-type": "application/json" }, payload: `{"messages":[],"x":${deepArray(3000)}}` });
    expect(res.statusCode, res.body.slice(0, 200)).toBe(400);
    expect((res.json() as { error: { code: string } }).error.code.toUpperCase()).toBe("JSON_TOO_DEEP");
  });
});
