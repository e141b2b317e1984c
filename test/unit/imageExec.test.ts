import { describe, expect, it } from "vitest";
import { capture, exec } from "../../image/lib/exec.js";

// A child that exits without reading its stdin used to crash the build with an
// unhandled EPIPE (dpkg-query in step 13, in CI).
describe("image exec helpers", () => {
  const big = "x".repeat(4 * 1024 * 1024);

  it("capture survives a child that exits before reading its input", async () => {
    for (let i = 0; i < 20; i++) await expect(capture("true", [], { input: big })).resolves.toBe("");
  });

  it("exec survives the same and still reports a failing exit", async () => {
    for (let i = 0; i < 20; i++) await expect(exec("true", [], { input: big })).resolves.toBe("");
    await expect(exec("false", [], { input: big })).rejects.toMatchObject({ code: "IMAGE_COMMAND_FAILED" });
  });

  it("a command without input reads end-of-file, not a hanging pipe", async () => {
    await expect(capture("cat", [])).resolves.toBe("");
    await expect(capture("cat", [], { input: "hello" })).resolves.toBe("hello");
  });
});
