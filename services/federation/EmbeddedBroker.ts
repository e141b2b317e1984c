import { Aedes, type AuthenticateError } from "aedes";
import { createServer, type AddressInfo, type Server } from "node:net";
import { checkBrokerLogin } from "./brokerLogin.js";
import type { Topics } from "./topics.js";

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  topics: Topics;
  maxPayloadBytes: number;
  skewMs: number;
  log?: { warn: (obj: object, msg: string) => void };
}

/**
 * An in-process MQTT broker (aedes) for a LAN with no other. Only nodes that
 * prove their node id (see brokerLogin.ts) may connect; a node may publish its
 * own manifest and presence only, and read its own inbox only, so other
 * clients on the LAN cannot read packets meant for someone else.
 */
export class EmbeddedBroker {
  private constructor(private readonly aedes: Aedes, private readonly server: Server) {}

  static async start(o: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    const ids = new WeakMap<object, string>();
    const aedes = await Aedes.createBroker({
      authenticate: (client, username, password, done) => {
        const nodeId = checkBrokerLogin(username, password, Date.now(), o.skewMs);
        if (!nodeId || client.id !== nodeId) {
          const err = new Error("not a federation node") as AuthenticateError;
          err.returnCode = 4;
          done(err, false);
          return;
        }
        ids.set(client, nodeId);
        done(null, true);
      },
      authorizePublish: (client, packet, cb) => {
        if (!client) return cb(null);
        const t = o.topics.parse(packet.topic);
        const me = ids.get(client);
        if (!t) return cb(new Error("topic outside the federation namespace"));
        if (packet.payload.length > o.maxPayloadBytes) return cb(new Error("payload too large"));
        if (t.leaf !== "inbox" && t.nodeId !== me) return cb(new Error("a node publishes only its own manifest and presence"));
        if (t.leaf === "inbox" && packet.retain) return cb(new Error("inbox messages are not retained"));
        cb(null);
      },
      authorizeSubscribe: (client, sub, cb) => {
        const me = ids.get(client);
        const topic = sub.topic;
        const ok = topic === o.topics.allManifests || topic === o.topics.allPresence || (me !== undefined && topic === o.topics.inbox(me));
        if (!ok) {
          o.log?.warn({ client: client.id, topic }, "federation broker: subscription refused");
          return cb(null, null);
        }
        cb(null, sub);
      },
    });
    const server = createServer(aedes.handle);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(o.port, o.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return new EmbeddedBroker(aedes, server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
