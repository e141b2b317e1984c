/**
 * Runs on the device, at every boot, as root (sovereign-network.service, see
 * networkImportService): imports the owner's `sovereign-network.txt` from the
 * boot partition into iwd, the regulatory domain and timesyncd, then
 * consumes it. The parsing is ./wifiConfig.ts; this file is only the I/O.
 *
 *   node /opt/sovereign/dist/image/lib/wifiImport.js <boot dir> [<root>]
 */
import { chmodSync, closeSync, existsSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { consumedNetworkFile, iwdNetworkConfig, NETWORK_FILE, parseNetworkFile, regulatoryDomainConfig, timesyncdConfig } from "./wifiConfig.js";

export const IWD_DIR = "var/lib/iwd";
export const REGDOM_CONF = "etc/modprobe.d/sovereign-wifi.conf";
export const TIMESYNCD_CONF = "etc/systemd/timesyncd.conf.d/50-sovereign.conf";

export interface ImportResult {
  status: "absent" | "imported" | "invalid";
  written: string[];
  messages: string[];
}

/**
 * Writes atomically (a temp file renamed over it). A symlink is written through, not replaced: in the A/B
 * layout the slot's file links to the data partition (abLayout.ts NODE_ETC_LINKS), where it must land to
 * outlive an update. An absolute link target is taken under `root`.
 */
function put(root: string, rel: string, text: string, mode: number): void {
  let path = join(root, rel);
  const link = lstatSync(path, { throwIfNoEntry: false });
  if (link?.isSymbolicLink()) {
    const target = readlinkSync(path);
    path = isAbsolute(target) ? join(root, target) : resolve(dirname(path), target);
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.partial`, text, { mode });
  chmodSync(`${path}.partial`, mode);
  renameSync(`${path}.partial`, path);
}

/** Overwrites the file's bytes in place before unlinking it, so the passphrase does not stay in the FAT's free clusters. */
function shred(path: string): void {
  const fd = openSync(path, "r+");
  try {
    const size = fstatSync(fd).size;
    writeSync(fd, Buffer.alloc(size), 0, size, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  rmSync(path);
}

/** Imports `<bootDir>/sovereign-network.txt` into the system under `root` ("/" on the device, a temp dir in tests). */
export function importNetworkFile(bootDir: string, root = "/"): ImportResult {
  const src = join(bootDir, NETWORK_FILE);
  if (!existsSync(src)) return { status: "absent", written: [], messages: [] };
  const text = readFileSync(src, "utf8");
  const parsed = parseNetworkFile(text);
  if (!parsed.ok) {
    // Left in place for the owner to fix; nothing half-applied.
    return { status: "invalid", written: [], messages: parsed.problems.map((p) => `${NETWORK_FILE} line ${p.line}: ${p.message}`) };
  }
  const written: string[] = [];
  const messages: string[] = [];
  const { wifi, ntp } = parsed.value;
  if (wifi) {
    const net = iwdNetworkConfig(wifi);
    mkdirSync(join(root, IWD_DIR), { recursive: true, mode: 0o700 });
    chmodSync(join(root, IWD_DIR), 0o700);
    put(root, join(IWD_DIR, net.name), net.text, 0o600);
    written.push(join(IWD_DIR, net.name));
    messages.push(`Wi-Fi network "${wifi.ssid}" configured${wifi.hidden ? " (hidden)" : ""}`);
    if (wifi.country) {
      put(root, REGDOM_CONF, regulatoryDomainConfig(wifi.country), 0o644);
      written.push(REGDOM_CONF);
      messages.push(`Wi-Fi country ${wifi.country} (applies from the next boot if the radio driver was already loaded)`);
    }
  }
  if (ntp.length > 0) {
    put(root, TIMESYNCD_CONF, timesyncdConfig(ntp), 0o644);
    written.push(TIMESYNCD_CONF);
    messages.push(`NTP servers: ${ntp.join(" ")}`);
  }
  shred(src);
  writeFileSync(`${src}.done`, consumedNetworkFile(text));
  messages.push(`${NETWORK_FILE} imported and removed from the boot partition (${NETWORK_FILE}.done keeps it without the passphrase)`);
  return { status: "imported", written, messages };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [bootDir, root] = process.argv.slice(2);
  if (!bootDir) {
    process.stderr.write("usage: wifiImport.js <boot dir> [<root>]\n");
    process.exit(2);
  }
  const r = importNetworkFile(bootDir, root);
  for (const m of r.messages) process.stdout.write(`sovereign: ${m}\n`);
  process.exitCode = r.status === "invalid" ? 1 : 0;
}
