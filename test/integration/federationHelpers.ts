import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../helpers/freePort.js";
import { buildTestApp, type TestApp } from "../helpers/testApp.js";

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Debian's Mosquitto on a free loopback port, with a generated config; stop() and start() again keep the port. */
export class Mosquitto {
  private proc: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), "sovereign-mosquitto-"));
  private constructor(readonly port: number) {}

  static async start(): Promise<Mosquitto> {
    const m = new Mosquitto(await freePort());
    await m.start();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const conf = join(this.dir, "mosquitto.conf");
    writeFileSync(conf, `listener ${this.port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nlog_dest none\n`);
    this.proc = spawn("mosquitto", ["-c", conf], { stdio: "ignore" });
    await until(() => portOpen(this.port), `mosquitto on port ${this.port}`, 10_000);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGTERM");
    });
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A node on an external broker, discovery off (no multicast in tests). */
export async function federatedNode(name: string, brokerUrl: string, extra: Record<string, unknown> = {}, dataDir?: string): Promise<TestApp> {
  return buildTestApp(
    {
      "node.name": name,
      "federation.enabled": true,
      "federation.broker.mode": "external",
      "federation.broker.url": brokerUrl,
      "federation.discovery": false,
      "scheduler.enabled": false,
      ...extra,
    },
    dataDir ? { dataDir } : {},
  );
}

/** Waits until `a` has seen `b`'s manifest, then sets b's tier on a (approval by fingerprint). */
export async function pair(a: TestApp, b: TestApp, tier: "core" | "sandbox" | "external"): Promise<void> {
  const id = b.app.identity.nodeId;
  await until(() => a.app.federation.peers().some((p) => p.nodeId === id), `${a.config["node.name"]} to see ${b.config["node.name"]}'s manifest`);
  a.app.federation.setTier(id, tier, "test-admin", b.app.identity.fingerprint);
}

export function countFrom(t: TestApp, author: string, scope?: "main" | "quarantine"): number {
  const rows = t.app.federation.store.packetsFrom(author);
  return scope ? rows.filter((r) => r.scope === scope).length : rows.length;
}
