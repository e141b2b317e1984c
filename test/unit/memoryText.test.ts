import { describe, expect, it } from "vitest";
import { chunkText } from "../../services/memory/chunkText.js";
import { COMMON_MIN_DOCS, ftsTerms, planFtsQuery, toFtsQuery } from "../../services/memory/ftsQuery.js";
import { checkText, decodeUtf8 } from "../../services/memory/text.js";

describe("toFtsQuery", () => {
  it("quotes every word so FTS5 syntax in the input stays literal", () => {
    expect(toFtsQuery('"hello" NEAR(world, 2) -foo* AND bar:baz')).toBe('"hello" OR "near" OR "world" OR "2" OR "foo" OR "and" OR "bar" OR "baz"');
    expect(toFtsQuery("Ünïcode straße")).toBe('"ünïcode" OR "straße"');
  });
  it("returns null when nothing searchable is left", () => {
    for (const q of ["", "   ", '"', "*", "-", "()", "^", "🙂", ":"]) expect(toFtsQuery(q)).toBeNull();
  });
  it("bounds the number of terms", () => {
    expect(ftsTerms(Array.from({ length: 100 }, (_, i) => `w${i}`).join(" "))).toHaveLength(32);
  });
});

describe("planFtsQuery", () => {
  const freq = (total: number, df: Record<string, number>) => ({ total: () => total, docFreq: (t: string) => df[t] ?? 0 });

  it("ORs every word in a small store, where no query is slow", () => {
    expect(planFtsQuery("the lake", freq(COMMON_MIN_DOCS - 1, { the: COMMON_MIN_DOCS - 1 }))).toEqual(['"the" OR "lake"']);
  });
  it("lets common words score but not match once the store is large", () => {
    const f = freq(100_000, { the: 60_000, of: 40_000, lake: 300, alpine: 5_000 });
    expect(planFtsQuery("the alpine lake of", f)).toEqual([
      '("alpine" OR "lake") OR (("alpine" OR "lake") AND ("the" OR "of"))',
      '"the" AND "of"',
    ]);
  });
  it("requires every word when all of them are common", () => {
    expect(planFtsQuery("the of", freq(100_000, { the: 60_000, of: 40_000 }))).toEqual(['"the" AND "of"']);
  });
  it("keeps a word the index has never seen as a matching word", () => {
    // A diacritic or unseen spelling reads df 0 here, yet FTS5 may still match it.
    expect(planFtsQuery("the ünïcode", freq(100_000, { the: 60_000 }))[0]).toBe('("ünïcode") OR (("ünïcode") AND ("the"))');
  });
  it("plans nothing for a query without words", () => {
    expect(planFtsQuery("*** ()", freq(100_000, {}))).toEqual([]);
  });
});

describe("chunkText", () => {
  const opts = { maxChars: 300, overlapChars: 60 };
  it("keeps a short note whole", () => {
    expect(chunkText("just one line", opts)).toEqual([{ text: "just one line", heading: "", index: 0 }]);
  });
  it("splits at headings and carries the heading path", () => {
    const chunks = chunkText("# A\n\nalpha text\n\n## B\n\nbeta text\n\n# C\n\ngamma", opts);
    expect(chunks.map((c) => c.heading)).toEqual(["A", "A > B", "C"]);
    expect(chunks[1]?.text).toBe("A > B\n\nbeta text");
  });
  it("packs paragraphs up to the size with overlap between chunks", () => {
    const paras = Array.from({ length: 12 }, (_, i) => `Paragraph ${i} ${"word ".repeat(10)}`.trim());
    const chunks = chunkText(paras.join("\n\n"), opts);
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(opts.maxChars + opts.overlapChars + 10);
    for (const p of paras) expect(chunks.some((c) => c.text.includes(p))).toBe(true);
    // The start of each later chunk repeats the end of the one before.
    const tail = chunks[0]?.text.slice(-20) ?? "";
    expect(chunks[1]?.text.includes(tail.trim().split(" ").slice(-1)[0] ?? "")).toBe(true);
  });
  it("cuts an oversized paragraph at sentences, never losing text", () => {
    const long = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} is here.`).join(" ");
    const chunks = chunkText(long, { maxChars: 200, overlapChars: 0 });
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.map((c) => c.text).join(" ").replace(/\s+/g, " ")).toBe(long);
  });
  it("does not treat # inside code fences as headings", () => {
    const chunks = chunkText("# Real\n\n```\n# not a heading\n```", opts);
    expect(chunks.map((c) => c.heading)).toEqual(["Real"]);
  });
});

describe("text checks", () => {
  it("decodes strict UTF-8 and refuses invalid bytes", () => {
    expect(decodeUtf8(Buffer.from("héllo"))).toBe("héllo");
    expect(() => decodeUtf8(Buffer.from([0xc3, 0x28]))).toThrow(expect.objectContaining({ code: "MEMORY_TEXT_INVALID" }));
  });
  it("refuses unpaired surrogates, NUL, blank and oversized text", () => {
    expect(() => checkText("a\ud800b", 100)).toThrow(expect.objectContaining({ code: "MEMORY_TEXT_INVALID" }));
    expect(() => checkText("a\u0000b", 100)).toThrow(expect.objectContaining({ code: "MEMORY_TEXT_INVALID" }));
    expect(() => checkText(" \n", 100)).toThrow(expect.objectContaining({ code: "MEMORY_TEXT_INVALID" }));
    expect(() => checkText("é".repeat(60), 100)).toThrow(expect.objectContaining({ code: "MEMORY_DOCUMENT_TOO_LARGE" }));
    expect(checkText("fine 🙂", 100)).toBe("fine 🙂");
  });
});

describe("summary cleaning", () => {
  it("drops NUL and other control bytes a model may emit, keeping newlines, tabs and text", async () => {
    const { withoutControlChars } = await import("../../services/memory/summarizeJob.js");
    expect(withoutControlChars("a\u0000b\u0007c\u001Fd\u007Fe")).toBe("abcde");
    expect(withoutControlChars("line one\nline\ttwo\r\n")).toBe("line one\nline\ttwo\r\n");
    expect(withoutControlChars("Lisbon \u00e9t\u00e9 \uFFFD")).toBe("Lisbon \u00e9t\u00e9 \uFFFD");
  });
});
