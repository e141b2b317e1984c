// The owner's network file on the boot partition (image/lib/wifiConfig.ts) and its import at boot
// (image/lib/wifiImport.ts), against the fixtures in test/fixtures/image/wifi, in temp directories
// standing in for the boot partition and the root filesystem.
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { consumedNetworkFile, iwdFileName, iwdNetworkConfig, NETWORK_FILE, parseNetworkFile, regulatoryDomainConfig, timesyncdConfig } from "../../image/lib/wifiConfig.js";
import { importNetworkFile, IWD_DIR, REGDOM_CONF, TIMESYNCD_CONF } from "../../image/lib/wifiImport.js";
import { NODE_ETC, NODE_ETC_LINKS } from "../../image/lib/abLayout.js";

const fixtures = join(import.meta.dirname, "../fixtures/image/wifi");
const cases = (dir: string): string[] => readdirSync(join(fixtures, dir)).filter((f) => f.endsWith(".txt")).map((f) => f.slice(0, -4));
const read = (dir: string, name: string, ext: string): string => readFileSync(join(fixtures, dir, `${name}.${ext}`), "utf8");

interface Expected {
  file: unknown;
  iwd?: { name: string; text: string };
  timesyncd?: string;
  regdom?: string;
}

describe("sovereign-network.txt parser", () => {
  it.each(cases("valid"))("valid/%s parses to the expected settings and iwd file", (name) => {
    const want = JSON.parse(read("valid", name, "json")) as Expected;
    const r = parseNetworkFile(read("valid", name, "txt"));
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.value).toEqual(want.file);
    if (want.iwd) {
      if (!r.value.wifi) throw new Error("no wifi");
      expect(iwdNetworkConfig(r.value.wifi)).toEqual(want.iwd);
    }
    if (want.timesyncd) expect(timesyncdConfig(r.value.ntp)).toBe(want.timesyncd);
    if (want.regdom) expect(regulatoryDomainConfig(r.value.wifi?.country ?? "")).toBe(want.regdom);
  });

  it.each(cases("invalid"))("invalid/%s is refused with every problem and its line", (name) => {
    const r = parseNetworkFile(read("invalid", name, "txt"));
    expect(r).toEqual({ ok: false, problems: JSON.parse(read("invalid", name, "json")) });
  });

  it("names iwd files the way iwd does: plain names kept, anything else hex-encoded", () => {
    expect(iwdFileName("My Net_1-a", false)).toBe("My Net_1-a.psk");
    expect(iwdFileName("a.b", false)).toBe(`=${Buffer.from("a.b").toString("hex")}.psk`);
    expect(iwdFileName("x", true)).toBe("x.open");
  });

  it("an SSID over 32 bytes is refused (multi-byte characters counted as bytes)", () => {
    const r = parseNetworkFile(`ssid = ${"é".repeat(17)}\n`);
    expect(r).toEqual({ ok: false, problems: [{ line: 1, message: "ssid must be 1 to 32 bytes, got 34" }] });
  });

  it("the consumed file keeps everything but the passphrase", () => {
    const out = consumedNetworkFile(read("valid", "home", "txt"));
    expect(out).not.toContain("correct horse");
    expect(out).toContain("ssid = Home Network 5G");
    expect(out).toContain("# passphrase: imported");
  });
});

describe("importing it at boot", () => {
  const dirs: string[] = [];
  const temp = (): string => {
    const d = mkdtempSync(join(tmpdir(), "sov-wifi-"));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("A/B layout: writes through the slot's links into the data partition's NODE_ETC, leaving the links in place", () => {
    const boot = temp();
    const root = temp();
    copyFileSync(join(fixtures, "valid/home.txt"), join(boot, NETWORK_FILE));
    const want = JSON.parse(read("valid", "home", "json")) as Required<Expected>;
    // As the image builds the slot: absolute links (resolved under root here, as / on the device).
    for (const [link, target] of Object.entries(NODE_ETC_LINKS)) {
      mkdirSync(dirname(join(root, link)), { recursive: true });
      symlinkSync(target, join(root, link));
    }
    expect(importNetworkFile(boot, root).status).toBe("imported");
    for (const link of Object.keys(NODE_ETC_LINKS)) expect(lstatSync(join(root, link)).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(root, NODE_ETC_LINKS[`/${TIMESYNCD_CONF}`]!), "utf8")).toBe(want.timesyncd);
    expect(readFileSync(join(root, NODE_ETC_LINKS[`/${REGDOM_CONF}`]!), "utf8")).toBe(want.regdom);
    expect(readdirSync(join(root, NODE_ETC)).sort()).toEqual(["modprobe-wifi.conf", "timesyncd.conf"]);
  });

  it("writes iwd's file 0600 in a 0700 directory, the regulatory domain and timesyncd's servers, then consumes the file", () => {
    const boot = temp();
    const root = temp();
    copyFileSync(join(fixtures, "valid/home.txt"), join(boot, NETWORK_FILE));
    const want = JSON.parse(read("valid", "home", "json")) as Required<Expected>;
    const r = importNetworkFile(boot, root);
    expect(r.status).toBe("imported");
    expect(r.written).toEqual([join(IWD_DIR, want.iwd.name), REGDOM_CONF, TIMESYNCD_CONF]);
    const iwd = join(root, IWD_DIR, want.iwd.name);
    expect(readFileSync(iwd, "utf8")).toBe(want.iwd.text);
    expect(statSync(iwd).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, IWD_DIR)).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(root, REGDOM_CONF), "utf8")).toBe(want.regdom);
    expect(readFileSync(join(root, TIMESYNCD_CONF), "utf8")).toBe(want.timesyncd);
    // The secret is gone from the boot partition; what was imported stays readable there.
    expect(readdirSync(boot)).toEqual([`${NETWORK_FILE}.done`]);
    expect(readFileSync(join(boot, `${NETWORK_FILE}.done`), "utf8")).not.toContain("correct horse");
    expect(r.messages.join("\n")).not.toContain("correct horse");
  });

  it("an invalid file is left in place for the owner to fix, and nothing is written", () => {
    const boot = temp();
    const root = temp();
    copyFileSync(join(fixtures, "invalid/short-passphrase.txt"), join(boot, NETWORK_FILE));
    const r = importNetworkFile(boot, root);
    expect(r).toEqual({ status: "invalid", written: [], messages: [`${NETWORK_FILE} line 2: passphrase must be 8 to 63 printable ASCII characters, or 64 hex digits`] });
    expect(readdirSync(boot)).toEqual([NETWORK_FILE]);
    expect(readdirSync(root)).toEqual([]);
  });

  it("no file: nothing happens", () => {
    expect(importNetworkFile(temp(), temp())).toEqual({ status: "absent", written: [], messages: [] });
  });
});
