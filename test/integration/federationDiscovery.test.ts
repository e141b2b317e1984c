import { afterAll, describe, expect, it } from "vitest";
import { Discovery, type DiscoveredNode } from "../../services/federation/Discovery.js";
import { NodeIdentity } from "../../services/identity/NodeIdentity.js";
import { until } from "./federationHelpers.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Real multicast DNS on this host's interfaces (bonjour-service): needs a network with multicast, as a LAN has. */
describe("DNS-SD discovery (_sovereign._tcp)", () => {
  const dirs: string[] = [];
  const running: Discovery[] = [];
  afterAll(async () => {
    await Promise.all(running.map((d) => d.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("two nodes find each other with id, fingerprint, HTTP and broker ports, and never themselves", async () => {
    const ids = [0, 1].map(() => {
      const dir = mkdtempSync(join(tmpdir(), "sovereign-dnssd-"));
      dirs.push(dir);
      return NodeIdentity.loadOrCreate(dir);
    });
    const seen: DiscoveredNode[][] = [[], []];
    const warn = () => undefined;
    ids.forEach((id, i) => {
      const d = new Discovery((n) => seen[i]!.push(n), { warn });
      running.push(d);
      d.start({ nodeId: id.nodeId, fingerprint: id.fingerprint, name: `node-${i}`, httpPort: 18080 + i, mqttPort: i === 0 ? 11883 : null });
    });
    await until(() => running[0]!.found.has(ids[1]!.nodeId) && running[1]!.found.has(ids[0]!.nodeId), "both nodes to see each other", 15_000);
    const byOne = running[1]!.found.get(ids[0]!.nodeId)!;
    expect(byOne).toMatchObject({ fingerprint: ids[0]!.fingerprint, httpPort: 18080 });
    expect(byOne.mqtt).toMatch(/^mqtt:\/\/.+:11883$/);
    expect(running[0]!.found.get(ids[1]!.nodeId)).toMatchObject({ fingerprint: ids[1]!.fingerprint, httpPort: 18081, mqtt: null });
    expect(seen[0]!.every((n) => n.nodeId === ids[1]!.nodeId)).toBe(true);
    expect(seen[1]!.every((n) => n.nodeId === ids[0]!.nodeId)).toBe(true);
  }, 30_000);
});
