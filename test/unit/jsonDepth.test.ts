import { describe, expect, it } from "vitest";
import { checkJsonTextDepth, jsonTextDepth, MAX_JSON_DEPTH, valueDepth } from "../../core/json/jsonDepth.js";
import { SovereignError } from "../../core/errors/SovereignError.js";

describe("jsonTextDepth / valueDepth", () => {
  it("counts nesting of text and of values alike, skipping brackets inside strings", () => {
    const docs = ["1", "\"[[[{\"", "{}", "[[1]]", "{\"a\":{\"b\":[1,{\"c\":\"]]]}\"}]}}", "[\"\\\"[\", [2]]"];
    const expected = [0, 0, 1, 2, 4, 2];
    docs.forEach((d, i) => {
      expect(jsonTextDepth(d), d).toBe(expected[i]);
      expect(valueDepth(JSON.parse(d)), d).toBe(expected[i]);
    });
  });

  it("stops early past the limit and never recurses (100,000 levels)", () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    expect(jsonTextDepth(deep, 10)).toBe(11);
    expect(valueDepth(JSON.parse(deep) as unknown)).toBe(100_000);
    expect(() => checkJsonTextDepth(deep)).toThrow(SovereignError);
    expect(() => checkJsonTextDepth(`${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`)).not.toThrow();
  });
});
