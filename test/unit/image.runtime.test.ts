import { describe, expect, it } from "vitest";
import { productionModules, prunePaths, type LockFile } from "../../image/lib/prodModules.js";
import { avahiService, firstbootService, hostnameFor, serviceEnvironment, sovereignService } from "../../image/lib/units.js";
import { statusService } from "../../image/lib/statusUnit.js";
import { findBoard } from "../../image/boards/registry.js";
import { flashRefusal } from "../../image/flash.js";

const lock: LockFile = {
  packages: {
    "": {},
    "node_modules/fastify": {},
    "node_modules/vitest": { dev: true },
    "node_modules/typescript": { devOptional: true },
    "node_modules/node-llama-cpp": {},
    "node_modules/@node-llama-cpp/linux-x64": { optional: true, os: ["linux"], cpu: ["x64"] },
    "node_modules/@node-llama-cpp/linux-x64-cuda": { optional: true, os: ["linux"], cpu: ["x64"] },
    "node_modules/@node-llama-cpp/linux-arm64": { optional: true, os: ["linux"], cpu: ["arm64"] },
    "node_modules/@node-llama-cpp/mac-arm64-metal": { optional: true, os: ["darwin"], cpu: ["arm64"] },
    "node_modules/sqlite-vec-linux-x64": { optional: true, os: ["linux"], cpu: ["x64"] },
    "node_modules/sqlite-vec-linux-arm64": { optional: true, os: ["linux"], cpu: ["arm64"] },
    "node_modules/sqlite-vec-darwin-x64": { optional: true, os: ["darwin"], cpu: ["x64"] },
    "node_modules/fastify/node_modules/semver": {},
  },
};

describe("production node_modules for the target", () => {
  it("amd64: production only, the one CPU llama.cpp package, linux-x64 sqlite-vec", () => {
    const { keep } = productionModules(lock, "amd64");
    expect(keep).toEqual(["node_modules/@node-llama-cpp/linux-x64", "node_modules/fastify", "node_modules/fastify/node_modules/semver", "node_modules/node-llama-cpp", "node_modules/sqlite-vec-linux-x64"]);
  });

  it("arm64 keeps the arm64 binaries instead", () => {
    const { keep } = productionModules(lock, "arm64");
    expect(keep).toContain("node_modules/@node-llama-cpp/linux-arm64");
    expect(keep).toContain("node_modules/sqlite-vec-linux-arm64");
    expect(keep.join()).not.toMatch(/x64/);
  });

  it("prunes onnxruntime's other platforms and llama.cpp's source bundle", () => {
    const p = prunePaths("amd64");
    expect(p).toContain("node_modules/onnxruntime-node/bin/napi-v6/linux/arm64");
    expect(p).toContain("node_modules/onnxruntime-node/bin/napi-v6/darwin");
    expect(p).toContain("node_modules/node-llama-cpp/llama/gitRelease.bundle");
    expect(prunePaths("arm64")).toContain("node_modules/onnxruntime-node/bin/napi-v6/linux/x64");
    // The build host's own llama.cpp build goes only into images of its architecture.
    expect(prunePaths("arm64")).toContain("node_modules/node-llama-cpp/llama/localBuilds/linux-x64");
    expect(p).toContain("node_modules/node-llama-cpp/llama/localBuilds/linux-arm64");
    expect(p).not.toContain("node_modules/node-llama-cpp/llama/localBuilds/linux-x64");
  });
});

describe("systemd units", () => {
  const rpi4 = findBoard("rpi4")!;
  it("sovereign.service: notify, watchdog, restart, own user, strict protection with the data dir writable", () => {
    const u = sovereignService(rpi4);
    for (const line of ["Type=notify", "WatchdogSec=30", "Restart=on-failure", "User=sovereign", "ProtectSystem=strict", "ReadWritePaths=/var/lib/sovereign", "Environment=SOVEREIGN_BOARD=rpi4", "Environment=MALLOC_ARENA_MAX=2"])
      expect(u).toContain(line);
    expect(u).toContain("After=network.target sovereign-firstboot.service");
  });

  it("sovereign.service delegates its memory cgroup, so each model runner gets a MemoryMax of its own", () => {
    const u = sovereignService(rpi4);
    expect(u).toContain("Delegate=memory pids");
    expect(u).toContain("ProtectControlGroups=no");
  });

  it("the Jetson keeps /dev visible for the GPU; other boards get PrivateDevices", () => {
    expect(sovereignService(findBoard("jetson-orin")!)).toContain("PrivateDevices=no");
    expect(sovereignService(rpi4)).toContain("PrivateDevices=yes");
  });

  it("first boot runs once, before the node", () => {
    const u = firstbootService();
    expect(u).toContain("ConditionPathExists=!/var/lib/sovereign/.firstboot-done");
    expect(u).toContain("Before=sovereign.service");
    expect(u).toContain("Type=oneshot");
  });

  it("environment, mDNS name and avahi service", () => {
    expect(serviceEnvironment(findBoard("x86_64")!)).toMatchObject({ SOVEREIGN_BOARD: "x86_64", SOVEREIGN_DATA_DIR: "/var/lib/sovereign", NODE_ENV: "production" });
    expect(hostnameFor(findBoard("x86_64")!)).toBe("sovereign-x86-64");
    expect(hostnameFor(rpi4)).toBe("sovereign-rpi4");
    expect(hostnameFor(rpi4, "kitchen")).toBe("kitchen");
    expect(avahiService()).toContain("<port>8080</port>");
  });

  it("the test status unit is Type=simple (it waits for boot to finish)", () => {
    const s = statusService("ttyS1");
    expect(s.unit).toContain("Type=simple");
    expect(s.script).toContain("> /dev/ttyS1");
  });
});

describe("flash target refusals", () => {
  const busy = new Set(["sda", "sdc"]);
  const host = new Set(["sda"]);
  it.each([
    [{ name: "sda", isBlock: true, isWholeDisk: true }, /runs from/],
    [{ name: "sdc", isBlock: true, isWholeDisk: true }, /mounted/],
    [{ name: "sdb1", isBlock: true, isWholeDisk: false }, /partition/],
    [{ name: "x.img", isBlock: false, isWholeDisk: false }, /not a block device/],
  ])("%j", (t, re) => expect(flashRefusal(t, busy, host)).toMatch(re));
  it("accepts an idle whole disk", () => expect(flashRefusal({ name: "sdb", isBlock: true, isWholeDisk: true }, busy, host)).toBeUndefined());
});
