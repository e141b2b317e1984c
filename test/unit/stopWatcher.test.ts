import { describe, expect, it } from "vitest";
import { StopWatcher } from "../../services/inference/StopWatcher.js";

function run(chunks: string[], stops: string[], json = false) {
  const out: string[] = [];
  let ended = 0;
  const w = new StopWatcher(stops, json, (t) => out.push(t), () => ended++);
  for (const c of chunks) w.push(c);
  const text = w.finish();
  return { text, streamed: out.join(""), ended, matched: w.matched };
}

describe("StopWatcher", () => {
  it("finds a stop string with whitespace split across chunks, and never streams it", () => {
    const r = run(["the c", "at s", "at on", " the mat"], ["t s"]);
    expect(r).toEqual({ text: "the ca", streamed: "the ca", ended: 1, matched: true });
    const nl = run(["one", "\n", "\ntwo"], ["\n\n"]);
    expect(nl.text).toBe("one");
  });

  it("cuts at the earliest of several stop strings", () => {
    expect(run(["a b c d"], ["c d", " b"]).text).toBe("a");
  });

  it("holds back a possible start of a stop string, and releases it when it is not one", () => {
    const out: string[] = [];
    const w = new StopWatcher(["END"], false, (t) => out.push(t), () => {});
    w.push("abcE");
    expect(out.join("")).toBe("abc");
    w.push("Nx");
    expect(out.join("")).toBe("abcENx");
    expect(w.finish()).toBe("abcENx");
    expect(w.matched).toBe(false);
  });

  it("ends a JSON object where it closes, braces in strings notwithstanding", () => {
    const r = run(['{"a": "}{\\"', '", "b": [1, {"c": 2}]}', "\n\n  garbage"], [], true);
    expect(r.text).toBe('{"a": "}{\\"", "b": [1, {"c": 2}]}');
    expect(JSON.parse(r.text)).toEqual({ a: '}{"', b: [1, { c: 2 }] });
    expect(r.ended).toBe(1);
    expect(run(['{"a": 1'], [], true).matched).toBe(false);
  });
});
