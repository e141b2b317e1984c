import { Bonjour, type Service } from "bonjour-service";

export const SERVICE_TYPE = "sovereign";

export interface DiscoveredNode {
  nodeId: string;
  fingerprint: string | null;
  name: string;
  host: string;
  addresses: string[];
  httpPort: number;
  /** "mqtt://addr:port" when the node hosts the embedded broker. */
  mqtt: string | null;
  seenAt: number;
}

/** Reads our TXT record back; null for anything that is not a sovereign node's. */
export function parseDiscovered(s: Pick<Service, "name" | "host" | "port" | "addresses" | "txt">, now: number): DiscoveredNode | null {
  const txt = (s.txt ?? {}) as Record<string, unknown>;
  const id = typeof txt.id === "string" ? txt.id : null;
  if (!id || !/^[a-z2-7]{26}$/.test(id)) return null;
  const addresses = (s.addresses ?? []).filter((a) => typeof a === "string");
  const mqttPort = typeof txt.mqtt === "string" && /^\d{1,5}$/.test(txt.mqtt) ? Number(txt.mqtt) : null;
  const addr = addresses.find((a) => !a.includes(":")) ?? addresses[0] ?? s.host;
  return {
    nodeId: id,
    fingerprint: typeof txt.fp === "string" ? txt.fp : null,
    name: s.name,
    host: s.host,
    addresses,
    httpPort: s.port,
    mqtt: mqttPort ? `mqtt://${addr.includes(":") ? `[${addr}]` : addr}:${mqttPort}` : null,
    seenAt: now,
  };
}

/**
 * DNS-SD on the LAN (`_sovereign._tcp`, via bonjour-service's multicast DNS).
 * What it finds is a hint only: trust still comes from signed manifests and
 * the admin's approval by fingerprint. The image also ships an avahi service
 * file for the same type, so a node is visible even while this is off.
 */
export class Discovery {
  private bonjour: Bonjour | undefined;
  readonly found = new Map<string, DiscoveredNode>();

  constructor(private readonly onFound: (node: DiscoveredNode) => void, private readonly log: { warn: (obj: object, msg: string) => void }) {}

  start(self: { nodeId: string; fingerprint: string; name: string; httpPort: number; mqttPort: number | null }): void {
    try {
      this.bonjour = new Bonjour({}, (err: Error) => this.log.warn({ err: err.message }, "federation: DNS-SD error"));
      this.bonjour.publish({
        name: `sovereign-${self.nodeId.slice(0, 8)}`,
        type: SERVICE_TYPE,
        port: self.httpPort,
        txt: { id: self.nodeId, fp: self.fingerprint, name: self.name, ...(self.mqttPort ? { mqtt: String(self.mqttPort) } : {}) },
      });
      this.bonjour.find({ type: SERVICE_TYPE }, (s: Service) => {
        const node = parseDiscovered(s, Date.now());
        if (!node || node.nodeId === self.nodeId) return;
        this.found.set(node.nodeId, node);
        this.onFound(node);
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "federation: DNS-SD unavailable; relying on the broker's retained manifests");
    }
  }

  stop(): Promise<void> {
    const b = this.bonjour;
    this.bonjour = undefined;
    if (!b) return Promise.resolve();
    return new Promise((resolve) => b.unpublishAll(() => b.destroy(() => resolve())));
  }
}
