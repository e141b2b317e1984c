import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import type { BoardProfile } from "../../image/boards/BoardProfile.js";
import { boardIds, boards, findBoard } from "../../image/boards/registry.js";
import { boardProfileSchema, validateBoardProfile } from "../../image/boards/schema.js";
import { x86_64 } from "../../image/boards/x86_64.js";
import { parseCpuinfo } from "../../hardware/parsers/cpuinfo.js";
import { buildIsaRefusal, parseBuildIsa } from "../../hardware/parsers/llamaBuildIsa.js";

const fixtures = join(import.meta.dirname, "../fixtures/image/boards");
const load = (dir: string): [string, Record<string, unknown>][] =>
  readdirSync(join(fixtures, dir))
    .filter((f) => f.endsWith(".json"))
    .map((f) => [f, JSON.parse(readFileSync(join(fixtures, dir, f), "utf8")) as Record<string, unknown>]);

describe("board profiles", () => {
  it("has boards and valid and invalid fixtures to check (an empty list would make the checks below vacuous)", () => {
    expect(boards.length).toBeGreaterThan(0);
    expect(load("valid").length).toBeGreaterThan(0);
    expect(load("invalid").length).toBeGreaterThan(0);
  });

  it.each(boards.map((b) => [b.id, b] as const))("%s satisfies the schema", (_id, board) => {
    expect(validateBoardProfile(board)).toEqual({ ok: true });
  });

  it("the type is the schema's: written once, so neither can drift from the other", () => {
    expectTypeOf<BoardProfile>().toEqualTypeOf<z.infer<typeof boardProfileSchema>>();
    // A field the schema does not define is a type error in a profile module, as it is a schema error in a fixture.
    // @ts-expect-error bootloader is not a field of a board profile
    const extra: BoardProfile = { ...x86_64, bootloader: "grub" };
    expect(validateBoardProfile(extra).ok).toBe(false);
    for (const b of boards) expect(boardProfileSchema.parse(b)).toEqual(b);
  });

  it("the registry lists every id once, in boardIds order", () => {
    expect(boards.map((b) => b.id)).toEqual([...boardIds]);
    for (const id of boardIds) expect(findBoard(id)?.id).toBe(id);
    expect(findBoard("pdp11")).toBeUndefined();
  });

  it("the Pi 4 uses Adiantum (no AES instructions) and the others AES-XTS", () => {
    for (const b of boards) expect(b.luks.cipher).toBe(b.id === "rpi4" ? "xchacha12,aes-adiantum-plain64" : "aes-xts-plain64");
  });

  it("the Pi 5 takes its kernel from trixie-backports; Pi boards boot from MBR with raspi-firmware", () => {
    const rpi5 = findBoard("rpi5")!;
    expect(rpi5.fromSuite["linux-image-arm64"]).toBe("trixie-backports");
    for (const id of ["rpi4", "rpi5"]) {
      const b = findBoard(id)!;
      expect(b.partitions.table).toBe("dos");
      expect(b.packages.firmware).toContain("raspi-firmware");
      expect(b.components).toContain("non-free-firmware");
    }
  });

  it("argon2id caps fit the weakest RAM: the 1 GiB Pi 4 gets at most 256 MiB", () => {
    expect(findBoard("rpi4")!.luks.pbkdfMemoryKiB).toBeLessThanOrEqual(262_144);
    for (const b of boards) expect(b.luks.pbkdfMemoryKiB).toBeLessThanOrEqual(1_048_576);
  });

  it("only jetson-orin has the opt-in vendor layer, and says CUDA needs it", () => {
    expect(boards.filter((b) => b.vendorLayer).map((b) => b.id)).toEqual(["jetson-orin"]);
    expect(findBoard("jetson-orin")!.notes.join(" ")).toMatch(/CUDA.*L4T/);
  });
});

describe("board schema fixtures", () => {
  it.each(load("valid"))("valid/%s passes", (_f, value) => {
    expect(validateBoardProfile(value)).toEqual({ ok: true });
  });

  it.each(load("invalid"))("invalid/%s is rejected with the rule it breaks", (_f, value) => {
    const { $expect, ...profile } = value;
    const r = validateBoardProfile(profile);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join("\n")).toContain(String($expect));
  });
});

describe("each board's llama.cpp build (llamaCpu)", () => {
  // Recorded /proc/cpuinfo of a board each profile is for (test/fixtures/hardware); arm64-uefi is built for the oldest.
  const recorded: Record<string, string> = { x86_64: "x86-ryzen7-5800x-smt", rpi4: "rpi4-8gb", rpi5: "rpi5-8gb", "jetson-orin": "jetson-orin-nano", "arm64-uefi": "rpi4-8gb" };
  const cpuFlags = (dir: string): string[] =>
    parseCpuinfo(readFileSync(join(import.meta.dirname, "../fixtures/hardware", dir, "proc/cpuinfo"), "utf8")).flags;

  it.each(boards.map((b) => [b.id, b] as const))("%s: every flag can be checked, and the board's own CPU runs the build", (id, board) => {
    const isa = parseBuildIsa(board.llamaCpu.isa.join("\n"));
    expect(isa.unknown).toEqual([]);
    expect(isa.needs.length).toBeGreaterThan(0);
    expect(recorded[id], `no recorded CPU for ${id}`).toBeDefined();
    expect(buildIsaRefusal(isa, cpuFlags(recorded[id] ?? ""))).toBeNull();
  });

  it("the Pi 5's and the Orin's build uses the dot product, which the Pi 4 lacks: a Pi 4 refuses it and runs the prebuilt", () => {
    for (const id of ["rpi5", "jetson-orin"]) {
      const isa = parseBuildIsa(findBoard(id)!.llamaCpu.isa.join("\n"));
      expect(isa.needs).toEqual(expect.arrayContaining(["asimddp", "asimdhp", "atomics"]));
      expect(buildIsaRefusal(isa, cpuFlags("rpi4-8gb"))).toMatch(/compiled for .*asimddp.*which this CPU lacks/);
    }
  });

  it("arm64 boards name the qemu-user CPU their build is tried on while the image is made", () => {
    for (const b of boards.filter((x) => x.arch === "arm64")) expect(b.llamaCpu.qemuCpu).toMatch(/^cortex-a\d+$/);
  });
});
