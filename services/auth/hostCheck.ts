import { hostname, networkInterfaces } from "node:os";
import { isIP } from "node:net";

/**
 * The host part of a Host header, lower-cased, without port or IPv6 brackets;
 * undefined when it is not a plausible host.
 */
export function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    if (end < 0) return undefined;
    const rest = h.slice(end + 1);
    if (rest !== "" && !/^:\d{1,5}$/.test(rest)) return undefined;
    return h.slice(1, end);
  }
  const m = /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(h);
  if (!m?.[1]) return undefined;
  return m[1].replace(/\.$/, "");
}

/** Loopback addresses: 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, "");
  return a === "::1" || (isIP(a) === 4 && a.startsWith("127."));
}

/** Pure rule: is `host` one of the names or addresses this node answers to? */
export function hostAllowed(host: string, names: ReadonlySet<string>): boolean {
  if (names.has(host)) return true;
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  return isLoopbackAddress(host);
}

/** The node's own names: host name (and its `.local` mDNS form), configured node name, and extra names. */
export function nodeNames(extra: readonly string[], nodeName: string | null): Set<string> {
  const names = new Set<string>();
  const add = (n: string) => {
    const v = n.trim().toLowerCase().replace(/\.$/, "");
    if (v) names.add(v);
  };
  const full = hostname();
  const short = full.split(".")[0] ?? full;
  for (const n of [full, short, `${short}.local`]) add(n);
  if (nodeName) for (const n of [nodeName, `${nodeName}.local`]) add(n);
  for (const n of extra) add(n);
  return names;
}

/** The node's current IP addresses (without IPv6 zone ids). */
export function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.push(a.address.toLowerCase().replace(/%.*$/, ""));
  }
  return out;
}

/**
 * Host-header check against DNS rebinding. Addresses are re-read at most every
 * few seconds, so a new DHCP lease is accepted without a restart.
 */
export class HostAllowList {
  private addresses = new Set<string>();
  private readAt = 0;

  constructor(private readonly names: ReadonlySet<string>, private readonly refreshMs = 5000) {}

  allows(header: string | undefined): boolean {
    const host = hostOf(header);
    if (host === undefined) return false;
    if (hostAllowed(host, this.names)) return true;
    if (isIP(host) === 0) return false;
    if (Date.now() - this.readAt > this.refreshMs) {
      this.addresses = new Set(interfaceAddresses());
      this.readAt = Date.now();
    }
    return this.addresses.has(host);
  }
}
