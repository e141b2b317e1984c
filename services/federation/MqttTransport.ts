import { readFileSync } from "node:fs";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { SovereignError } from "../../core/errors/SovereignError.js";
import type { Topics } from "./topics.js";

export interface MqttTransportOptions {
  url: string;
  clientId: string;
  topics: Topics;
  maxPayloadBytes: number;
  username?: string | null;
  password?: string | (() => string) | null;
  caFile?: string | null;
  certFile?: string | null;
  keyFile?: string | null;
  rejectUnauthorized?: boolean;
  reconnectPeriodMs?: number;
  onMessage: (topic: string, payload: Buffer) => void;
  onConnect: () => void;
  onDisconnect: () => void;
  log: { warn: (obj: object, msg: string) => void };
}

/**
 * The MQTT link (mqtt.js). Presence is a retained "online" set on connect and
 * a retained "offline" last will, so peers see a crash as well as a shutdown.
 * Reconnects forever; what was sent while the link was down is recovered by
 * delta sync from the SQLite log, not by trusting an in-memory queue.
 */
export class MqttTransport {
  private client: MqttClient | undefined;
  private connectedFlag = false;

  constructor(private readonly o: MqttTransportOptions) {}

  get connected(): boolean {
    return this.connectedFlag;
  }

  start(): void {
    const o = this.o;
    const pw = typeof o.password === "function" ? o.password() : o.password;
    const opts: IClientOptions = {
      clientId: o.clientId,
      clean: true,
      reconnectPeriod: o.reconnectPeriodMs ?? 1000,
      connectTimeout: 10_000,
      keepalive: 15,
      queueQoSZero: false,
      resubscribe: true,
      will: { topic: o.topics.presence(o.clientId), payload: Buffer.from(JSON.stringify({ status: "offline" })), qos: 1, retain: true },
      ...(o.username ? { username: o.username } : {}),
      ...(pw ? { password: pw } : {}),
      ...(o.caFile ? { ca: readFileSync(o.caFile) } : {}),
      ...(o.certFile ? { cert: readFileSync(o.certFile) } : {}),
      ...(o.keyFile ? { key: readFileSync(o.keyFile) } : {}),
      rejectUnauthorized: o.rejectUnauthorized ?? true,
    };
    const client = mqtt.connect(o.url, opts);
    this.client = client;
    // The embedded broker's login is time-stamped: refresh it before each reconnect.
    if (typeof o.password === "function") {
      const fn = o.password;
      client.on("reconnect", () => {
        client.options.password = fn();
      });
    }
    client.on("connect", () => {
      this.connectedFlag = true;
      client.subscribe([o.topics.allManifests, o.topics.allPresence, o.topics.inbox(o.clientId)], { qos: 1 }, (err) => {
        if (err) o.log.warn({ err: err.message }, "federation: subscribe failed");
      });
      client.publish(o.topics.presence(o.clientId), JSON.stringify({ status: "online" }), { qos: 1, retain: true });
      o.onConnect();
    });
    const down = () => {
      if (!this.connectedFlag) return;
      this.connectedFlag = false;
      o.onDisconnect();
    };
    client.on("close", down);
    client.on("offline", down);
    client.on("error", (err) => o.log.warn({ err: err.message }, "federation: broker connection error"));
    client.on("message", (topic, payload) => o.onMessage(topic, payload));
  }

  /** Publishes at QoS 1. Refuses (throws) a payload over the limit rather than have the broker cut it. */
  publish(topic: string, payload: string | Buffer, options: { retain?: boolean } = {}): void {
    const size = Buffer.byteLength(payload);
    if (size > this.o.maxPayloadBytes) {
      throw new SovereignError("FED_PAYLOAD_TOO_LARGE", `A ${size}-byte message is over the ${this.o.maxPayloadBytes}-byte limit.`, { details: { size, limit: this.o.maxPayloadBytes } });
    }
    if (!this.client || (!this.connectedFlag && !options.retain)) return;
    this.client.publish(topic, payload, { qos: 1, retain: options.retain ?? false });
  }

  /** Publishes and resolves once the broker has acknowledged (QoS 1), for the graceful goodbye. */
  async publishAcked(topic: string, payload: string, retain: boolean, timeoutMs = 2000): Promise<void> {
    const client = this.client;
    if (!client || !this.connectedFlag) return;
    await Promise.race([
      new Promise<void>((resolve) => client.publish(topic, payload, { qos: 1, retain }, () => resolve())),
      new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
  }

  /** Drops the connection without a goodbye, as a crash would: the broker then sends our last will. For tests. */
  sever(): void {
    this.client?.stream.destroy();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.connectedFlag = false;
    if (!client) return;
    await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  }
}
