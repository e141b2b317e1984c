import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { boards, findBoard } from "../../image/boards/registry.js";
import type { BuildOptions } from "../../image/BuildContext.js";
import { aptSources, baseKey, basePackages, basePackagesFor, baseSourceLines, boardLayerPackages, bootstrapKey, clearAptLists, debian, olderKernels, securityMirror } from "../../image/distros/debian.js";
import { defaultDistro, distros, findDistro } from "../../image/distros/registry.js";
import { createContext, resolveDistro } from "../../image/pipeline.js";

const tmp = mkdtempSync(join(tmpdir(), "sov-image-distro-"));
const opts = (o: Partial<BuildOptions> = {}): BuildOptions => ({
  board: "x86_64", out: join(tmp, "out"), models: [], mirror: "http://deb.debian.org/debian", cache: join(tmp, "cache"), compress: "zstd", repoRoot: tmp, dryRun: true, ...o,
});

describe("the distro registry", () => {
  it("has Debian as its one distro and the default, each id once", () => {
    expect(distros.map((d) => d.id)).toEqual(["debian"]);
    expect(defaultDistro).toBe(debian);
    expect(findDistro("debian")).toBe(debian);
    expect(findDistro("arch")).toBeUndefined();
    expect(new Set(distros.map((d) => d.id)).size).toBe(distros.length);
  });

  it("an unknown --distro is a user mistake that names the known ones", () => {
    expect(resolveDistro(undefined)).toBe(debian);
    expect(() => resolveDistro("arch")).toThrow(SovereignError);
    expect(() => resolveDistro("arch")).toThrow(/unknown distro "arch" \(known: debian\)/);
    expect(() => createContext(opts({ distro: "gentoo" }))).toThrow(/unknown distro/);
  });

  it.each(distros.map((d) => [d.id, d] as const))("%s names a bootstrapper and, for every board, a base set with the board's kernel", (_id, d) => {
    expect(d.hostTools.length).toBeGreaterThan(0);
    expect(d.release).not.toBe("");
    for (const b of boards) {
      expect(d.basePackages(b).length).toBeGreaterThan(0);
      const keys = d.layerKeys(b, "http://m/debian");
      expect(keys.base).toMatch(/^[0-9a-f]{16}$/);
      expect(Object.keys(d.sources(b, "http://m/debian")).length).toBeGreaterThan(0);
    }
  });

  it("the steps reach the package manager only through the distro", () => {
    const dir = join(import.meta.dirname, "../../image/steps");
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(10);
    // The build host's own apt in a hint is fine; apt run in (or for) the rootfs is not.
    for (const f of files) expect(readFileSync(join(dir, f), "utf8"), f).not.toMatch(/["'`]apt-get install -y|["']apt-get["']|mmdebstrap|dpkg-query|aptInChroot|distros\/debian/);
  });
});

describe("Debian: bootstrap inputs", () => {
  it("layer 1 has the base set and the kernel; layer 2 the board's firmware and boot packages; backports packages carry their suite", () => {
    const x = findBoard("x86_64")!;
    for (const p of [...basePackages, "linux-image-amd64"]) expect(debian.basePackages(x)).toContain(p);
    expect(debian.boardPackages(x)).toEqual(["systemd-boot-efi"]);
    expect(boardLayerPackages(findBoard("rpi4")!)).toEqual(["raspi-firmware", "firmware-brcm80211"]);
    expect(basePackagesFor(findBoard("rpi5")!)).toContain("linux-image-arm64/trixie-backports");
    // Layer 1 takes main only, so that boards differing in components still share it, with updates and security
    // fixes, so that a fresh layer 1 needs no upgrade.
    expect(baseSourceLines(findBoard("rpi5")!, "http://m/debian")).toEqual([
      "deb http://m/debian trixie main", "deb http://m/debian trixie-updates main", "deb http://m/debian trixie-backports main", "deb http://m/debian-security trixie-security main",
    ]);
  });

  it("arm64 boards with the same kernel share layer 1 but not the board tarball", () => {
    const [rpi4, uefi, jetson, rpi5] = (["rpi4", "arm64-uefi", "jetson-orin", "rpi5"] as const).map((id) => findBoard(id)!);
    const m = "http://a/debian";
    expect(baseKey(rpi4!, m)).toBe(baseKey(uefi!, m));
    expect(baseKey(jetson!, m)).toBe(baseKey(uefi!, m));
    // The Pi 5's kernel comes from backports: another layer 1.
    expect(baseKey(rpi5!, m)).not.toBe(baseKey(rpi4!, m));
    expect(bootstrapKey(rpi4!, m)).not.toBe(bootstrapKey(uefi!, m));
    // arm64-uefi and jetson-orin differ in components (non-free-firmware), so in the image's apt sources.
    expect(bootstrapKey(jetson!, m)).not.toBe(bootstrapKey(uefi!, m));
  });

  it("the cache keys change with the inputs and not otherwise", () => {
    const b = findBoard("x86_64")!;
    expect(bootstrapKey(b, "http://a/debian")).toBe(bootstrapKey(b, "http://a/debian"));
    expect(bootstrapKey(b, "http://a/debian")).not.toBe(bootstrapKey(b, "http://b/debian"));
    expect(baseKey(b, "http://a/debian")).not.toBe(baseKey(b, "http://b/debian"));
    expect(bootstrapKey(b, "http://a/debian")).not.toBe(bootstrapKey(findBoard("arm64-uefi")!, "http://a/debian"));
  });

  it("keeps the cache keys the layers had before the distro seam, so cached tarballs stay valid", () => {
    // Changing what layer 1 or 2 contains changes these on purpose (every build host then bootstraps again).
    // Layer 2 changed with trixie-security in the image's sources (issue 15); layer 1 when it took trixie-updates
    // and trixie-security too (so a fresh one needs no kernel upgrade), and layer 2 with it.
    const m = "http://deb.debian.org/debian";
    expect(debian.layerKeys(findBoard("x86_64")!, m)).toEqual({ base: "b93ee8c772daa4e1", board: "f6fbe9215aa715e7" });
    expect(debian.layerKeys(findBoard("rpi4")!, m)).toEqual({ base: "f90f4e99395612a3", board: "64b84c7aa540e161" });
  });

  it("the image's apt sources: the board's components, trixie-updates, trixie-security and extra suites, deb822", () => {
    const s = aptSources(findBoard("rpi5")!, "http://m/debian");
    expect(s.match(/^(URIs|Suites): .*$/gm)).toEqual(["URIs: http://m/debian", "Suites: trixie trixie-updates trixie-backports", "URIs: http://m/debian-security", "Suites: trixie-security"]);
    expect(s.match(/^Components: main non-free-firmware$/gm)).toHaveLength(2);
    expect(debian.sources(findBoard("x86_64")!, "http://m/debian")).toEqual({ "etc/apt/sources.list.d/debian.sources": aptSources(findBoard("x86_64")!, "http://m/debian") });
  });
});

describe("Debian: security updates and the appliance's packages", () => {
  it("the security suite comes from the mirror's -security sibling, else security.debian.org", () => {
    expect(securityMirror("http://deb.debian.org/debian")).toBe("http://deb.debian.org/debian-security");
    expect(securityMirror("http://proxy:3142/deb.debian.org/debian/")).toBe("http://proxy:3142/deb.debian.org/debian-security");
    expect(securityMirror("http://mirror.example/pub/linux")).toBe("http://security.debian.org/debian-security");
  });

  it("after a kernel security update with a new ABI, only the newest kernel is kept", () => {
    expect(olderKernels(["6.12.48+deb13-amd64", "6.12.118+deb13-amd64"])).toEqual(["6.12.48+deb13-amd64"]);
    expect(olderKernels(["6.12.118+deb13-arm64"])).toEqual([]);
    expect(olderKernels([])).toEqual([]);
  });

  it("every image gets the resolver, clock sync, CA certificates and Wi-Fi, outside the cached layers", () => {
    expect(debian.appliancePackages()).toEqual(["systemd-resolved", "systemd-timesyncd", "ca-certificates", "iwd", "wireless-regdb"]);
    for (const b of ["x86_64", "rpi4"]) for (const p of debian.appliancePackages()) expect([...debian.basePackages(findBoard(b)!), ...debian.boardPackages(findBoard(b)!)]).not.toContain(p);
  });
});

describe("Debian: the rootfs's apt files", () => {
  it("writeSources replaces mmdebstrap's one-line sources with the image's own, and a vendor's line in its own file", () => {
    const r = join(tmp, "rootfs-sources");
    mkdirSync(join(r, "etc/apt"), { recursive: true });
    writeFileSync(join(r, "etc/apt/sources.list"), "deb http://m/debian trixie main\n");
    const ctx = { ...createContext(opts({ board: "jetson-orin" })), rootfs: r };
    debian.writeSources(ctx, ["deb https://repo.example/l4t r36 main"]);
    expect(existsSync(join(r, "etc/apt/sources.list"))).toBe(false);
    expect(readFileSync(join(r, "etc/apt/sources.list.d/debian.sources"), "utf8")).toContain("Components: main non-free-firmware\n");
    expect(readFileSync(join(r, "etc/apt/sources.list.d/vendor.list"), "utf8")).toBe("deb https://repo.example/l4t r36 main\n");
  });

  it("after apt in the rootfs, the lists and apt's binary caches go, the lock and the host's bound .deb cache stay", () => {
    const r = join(tmp, "rootfs-apt");
    mkdirSync(join(r, "var/lib/apt/lists/partial"), { recursive: true });
    mkdirSync(join(r, "var/cache/apt/archives"), { recursive: true });
    for (const f of ["var/lib/apt/lists/deb.debian.org_debian_dists_trixie_InRelease", "var/lib/apt/lists/lock", "var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin", "var/cache/apt/archives/zstd_1.5_arm64.deb"]) {
      writeFileSync(join(r, f), "x");
    }
    clearAptLists(r);
    expect(readdirSync(join(r, "var/lib/apt/lists")).sort()).toEqual(["lock", "partial"]);
    expect(readdirSync(join(r, "var/cache/apt"))).toEqual(["archives"]);
    expect(readdirSync(join(r, "var/cache/apt/archives"))).toEqual(["zstd_1.5_arm64.deb"]);
  });

  it("unlock methods and the L4T layer in Debian's package names", () => {
    expect(debian.unlockPackages("passphrase")).toEqual([]);
    expect(debian.unlockPackages("usb-key")).toEqual([]);
    expect(debian.vendorPackages("nvidia-l4t")).toEqual(["nvidia-l4t-core", "nvidia-l4t-cuda"]);
    expect(debian.vendorPackages("other")).toEqual([]);
  });
});
