// What a booted image's status line must show once the owner's network file (test/fixtures/image/wifi/valid/home.txt)
// was imported: shared by the suites that put it on the boot partition before first boot.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { iwdNetworkConfig, NETWORK_FILE, parseNetworkFile } from "../../image/lib/wifiConfig.js";
import { repoRoot } from "./imageBuild.js";
import { field, list } from "./nodeHttps.js";

export const wifiFixture = join(repoRoot, "test/fixtures/image/wifi/valid/home.txt");

/**
 * timesyncd runs with the file's NTP servers, iwd has its network (0600, a digest of the secret line),
 * the regulatory domain is set, and the boot partition keeps only the file without its passphrase.
 */
export function expectNetworkFileImported(line: string): void {
  const parsed = parseNetworkFile(readFileSync(wifiFixture, "utf8"));
  if (!parsed.ok || !parsed.value.wifi) throw new Error("fixture does not parse");
  expect(list(line, "ntpconf"), "the import's timesyncd drop-in").toEqual(parsed.value.ntp);
  expect(list(line, "ntpservers"), "timesyncd's servers (read after the import?)").toEqual(parsed.value.ntp);
  const net = iwdNetworkConfig(parsed.value.wifi);
  const secretLine = net.text.split("\n").find((l) => l.startsWith("Passphrase=")) ?? "";
  const digest = createHash("sha256").update(`${secretLine}\n`).digest("hex").slice(0, 16);
  expect(list(line, "iwd")).toEqual([`${net.name.replace(/ /g, "_")}:600:${digest}`]);
  expect(field(line, "regdom")).toBe("DE");
  expect(list(line, "netfiles")).toEqual([`${NETWORK_FILE}.done`]);
  expect(field(line, "donesecret")).toBe("0");
}
