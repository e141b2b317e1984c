import { afterEach, describe, expect, it, vi } from "vitest";
import type { NetworkInterfaceInfo } from "node:os";
import { listenUrls, renderSetupBanner, setupBannerLine, startSetupBanner, type SetupBannerInput } from "../../services/auth/setupBanner.js";

const nic = (address: string, family: "IPv4" | "IPv6", internal = false) => ({ address, family, internal }) as NetworkInterfaceInfo;
const interfaces = {
  lo: [nic("127.0.0.1", "IPv4", true), nic("::1", "IPv6", true)],
  eth0: [nic("192.168.1.20", "IPv4"), nic("fe80::1", "IPv6")],
  wlan0: [nic("10.0.0.7", "IPv4"), nic("169.254.3.4", "IPv4")],
};

describe("listenUrls (the URLs the setup banner names)", () => {
  it("lists this machine and each LAN IPv4 address for a wildcard host", () => {
    expect(listenUrls("0.0.0.0", 8080, interfaces)).toEqual(["http://localhost:8080/", "http://192.168.1.20:8080/", "http://10.0.0.7:8080/"]);
    expect(listenUrls("::", 9000, interfaces)).toEqual(["http://localhost:9000/", "http://192.168.1.20:9000/", "http://10.0.0.7:9000/"]);
  });
  it("names only the bound address otherwise (loopback as localhost, IPv6 in brackets)", () => {
    expect(listenUrls("127.0.0.1", 8080, interfaces)).toEqual(["http://localhost:8080/"]);
    expect(listenUrls("192.168.1.20", 8080, interfaces)).toEqual(["http://192.168.1.20:8080/"]);
    expect(listenUrls("fd00::5", 8080, interfaces)).toEqual(["http://[fd00::5]:8080/"]);
  });
});

describe("the setup banner", () => {
  const input: SetupBannerInput = { code: "ABCD-EFGH-JKLM-NPQR", urls: ["http://localhost:8080/", "http://192.168.1.20:8080/"] };

  it("frames the code and every URL in a box of equal-width lines", () => {
    const text = renderSetupBanner(input);
    const lines = text.split("\n");
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(lines[0]).toMatch(/^╔═+╗$/);
    expect(text).toContain("Setup code:  ABCD-EFGH-JKLM-NPQR");
    for (const u of input.urls) expect(text).toContain(u);
    expect(text).not.toContain("fingerprint");
  });

  it("shows the TLS certificate fingerprint when there is one", () => {
    const text = renderSetupBanner({ ...input, tlsFingerprint: "AB:CD:EF" });
    expect(text).toContain("AB:CD:EF");
    expect(setupBannerLine({ ...input, tlsFingerprint: "AB:CD:EF" })).toContain("certificate fingerprint AB:CD:EF");
  });

  it("has a one-line form for JSON logs with the code and the URLs", () => {
    const line = setupBannerLine(input);
    expect(line).not.toContain("\n");
    expect(line).toContain("ABCD-EFGH-JKLM-NPQR");
    expect(line).toContain("http://192.168.1.20:8080/");
  });
});

describe("startSetupBanner (repeats until the node is claimed)", () => {
  afterEach(() => vi.useRealTimers());

  it("prints at once, again every interval, and stops once claimed", () => {
    vi.useFakeTimers();
    let claimed = false;
    const printed: string[] = [];
    startSetupBanner({ code: () => "CODE-1", isClaimed: () => claimed, urls: ["http://localhost:1/"], print: (b) => printed.push(b.code), everyMs: 600_000 });
    expect(printed).toEqual(["CODE-1"]);
    vi.advanceTimersByTime(600_000);
    vi.advanceTimersByTime(600_000);
    expect(printed).toHaveLength(3);
    claimed = true;
    vi.advanceTimersByTime(600_000 * 5);
    expect(printed).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("prints nothing for a claimed node, and once only with an interval of 0", () => {
    vi.useFakeTimers();
    const printed: string[] = [];
    startSetupBanner({ code: () => "X", isClaimed: () => true, urls: [], print: (b) => printed.push(b.code), everyMs: 1000 });
    expect(printed).toEqual([]);
    startSetupBanner({ code: () => "Y", isClaimed: () => false, urls: [], print: (b) => printed.push(b.code), everyMs: 0 });
    vi.advanceTimersByTime(10_000);
    expect(printed).toEqual(["Y"]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
