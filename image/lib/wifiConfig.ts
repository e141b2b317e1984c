/**
 * The owner's network file on the boot partition (`sovereign-network.txt`),
 * read once at boot by the import unit (./wifiImport.ts): pure parsing and
 * the files it turns into, no I/O here.
 *
 * Format: one `key = value` a line; `#` starts a comment line; blank lines,
 * a UTF-8 byte-order mark and Windows line ends are fine (the file is
 * written on whatever machine flashed the card). A value may be wrapped in
 * double quotes to keep leading or trailing spaces. Keys:
 *
 * | key | meaning |
 * |---|---|
 * | `ssid` | the Wi-Fi network's name (1–32 bytes) |
 * | `passphrase` | WPA2/WPA3 passphrase (8–63 printable ASCII characters) or the 64-hex-digit PSK; omit for an open network |
 * | `country` | ISO 3166 two-letter country code (`DE`, `US`…): the radio's regulatory domain |
 * | `hidden` | `yes` when the network does not broadcast its name |
 * | `ntp` | NTP servers, space-separated, used besides those DHCP hands out |
 */
export const NETWORK_FILE = "sovereign-network.txt";

export interface NetworkFile {
  wifi?: { ssid: string; passphrase?: string; psk?: string; country?: string; hidden: boolean };
  ntp: string[];
}

export interface NetworkFileProblem {
  line: number;
  message: string;
}

export type ParsedNetworkFile = { ok: true; value: NetworkFile } | { ok: false; problems: NetworkFileProblem[] };

const KEYS = new Set(["ssid", "passphrase", "country", "hidden", "ntp"]);
const HOST = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/** Parses the owner's file; every problem is reported with its line, none is guessed around. */
export function parseNetworkFile(text: string): ParsedNetworkFile {
  const problems: NetworkFileProblem[] = [];
  const seen = new Map<string, { value: string; line: number }>();
  text.replace(/^\uFEFF/, "").split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    if (t === "" || t.startsWith("#")) return;
    const eq = t.indexOf("=");
    if (eq < 0) return problems.push({ line, message: "expected key = value" });
    const key = t.slice(0, eq).trim().toLowerCase();
    if (!KEYS.has(key)) return problems.push({ line, message: `unknown key "${key}" (known: ${[...KEYS].join(", ")})` });
    if (seen.has(key)) return problems.push({ line, message: `"${key}" given twice (first on line ${seen.get(key)?.line})` });
    seen.set(key, { value: unquote(t.slice(eq + 1).trim()), line });
    return undefined;
  });
  const get = (k: string): { value: string; line: number } | undefined => seen.get(k);

  const ntp: string[] = [];
  const n = get("ntp");
  for (const s of n ? n.value.split(/[\s,]+/).filter(Boolean) : []) {
    if (HOST.test(s) || (s.includes(":") && IPV6.test(s))) ntp.push(s);
    else problems.push({ line: n?.line ?? 0, message: `"${s}" is not a host name or address` });
  }

  let wifi: NetworkFile["wifi"];
  const ssid = get("ssid");
  if (ssid) {
    const bytes = Buffer.byteLength(ssid.value, "utf8");
    if (bytes < 1 || bytes > 32) problems.push({ line: ssid.line, message: `ssid must be 1 to 32 bytes, got ${bytes}` });
    wifi = { ssid: ssid.value, hidden: false };
    const pass = get("passphrase");
    if (pass) {
      if (/^[0-9a-fA-F]{64}$/.test(pass.value)) wifi.psk = pass.value.toLowerCase();
      else if (/^[\x20-\x7e]{8,63}$/.test(pass.value)) wifi.passphrase = pass.value;
      else problems.push({ line: pass.line, message: "passphrase must be 8 to 63 printable ASCII characters, or 64 hex digits" });
    }
    const country = get("country");
    if (country) {
      if (/^[A-Za-z]{2}$/.test(country.value)) wifi.country = country.value.toUpperCase();
      else problems.push({ line: country.line, message: `country must be a two-letter code such as DE or US, got "${country.value}"` });
    }
    const hidden = get("hidden");
    if (hidden) {
      if (/^(yes|true|1)$/i.test(hidden.value)) wifi.hidden = true;
      else if (!/^(no|false|0)$/i.test(hidden.value)) problems.push({ line: hidden.line, message: `hidden must be yes or no, got "${hidden.value}"` });
    }
  } else {
    for (const k of ["passphrase", "country", "hidden"]) {
      const e = get(k);
      if (e) problems.push({ line: e.line, message: `${k} without ssid` });
    }
  }
  return problems.length > 0 ? { ok: false, problems: problems.sort((a, b) => a.line - b.line) } : { ok: true, value: { ...(wifi ? { wifi } : {}), ntp } };
}

/**
 * iwd's file name for a network (iwd's storage rules): names of only
 * letters, digits, space, `_` and `-` are kept; any other is `=` and the
 * SSID's bytes in hex. The suffix is the security type.
 */
export function iwdFileName(ssid: string, open: boolean): string {
  const base = /^[A-Za-z0-9 _-]+$/.test(ssid) ? ssid : `=${Buffer.from(ssid, "utf8").toString("hex")}`;
  return `${base}.${open ? "open" : "psk"}`;
}

/** The iwd network file (/var/lib/iwd/<name>): written 0600, it holds the secret. */
export function iwdNetworkConfig(wifi: NonNullable<NetworkFile["wifi"]>): { name: string; text: string } {
  const open = wifi.passphrase === undefined && wifi.psk === undefined;
  const security = wifi.psk !== undefined ? `PreSharedKey=${wifi.psk}\n` : wifi.passphrase !== undefined ? `Passphrase=${wifi.passphrase}\n` : "";
  const text = `${security ? `[Security]\n${security}\n` : ""}[Settings]\nAutoConnect=true\n${wifi.hidden ? "Hidden=true\n" : ""}`;
  return { name: iwdFileName(wifi.ssid, open), text };
}

/** The radio's regulatory domain, applied when cfg80211 loads (a modprobe option; wireless-regdb has the rules). */
export function regulatoryDomainConfig(country: string): string {
  return `# From the boot partition's ${NETWORK_FILE}\noptions cfg80211 ieee80211_regdom=${country}\n`;
}

/** timesyncd drop-in for the owner's NTP servers (DHCP's come from systemd-networkd besides these). */
export function timesyncdConfig(servers: readonly string[]): string {
  return `# From the boot partition's ${NETWORK_FILE}\n[Time]\nNTP=${servers.join(" ")}\n`;
}

/**
 * What stays on the boot partition after the import: the file with its
 * secret removed (the owner sees that it was read, and what), never the
 * passphrase.
 */
export function consumedNetworkFile(text: string): string {
  return text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .map((l) => (/^\s*passphrase\s*=/i.test(l) ? "# passphrase: imported into the node and removed from this file" : l))
    .join("\n");
}
