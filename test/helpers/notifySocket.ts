import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(import.meta.url);

interface DgramServer {
  bind(path: string): void;
  close(): void;
}

export interface NotifySocket {
  path: string;
  /** Every datagram with the time it arrived. */
  messages: Array<{ at: number; text: string }>;
  close(): void;
}

/** systemd's side of sd_notify, owned by the test. */
export function notifySocket(dir: string): NotifySocket {
  const unix = require("unix-dgram") as { createSocket(type: string, cb?: (buf: Buffer) => void): DgramServer };
  const messages: NotifySocket["messages"] = [];
  const path = join(dir, "notify.sock");
  const sock = unix.createSocket("unix_dgram", (buf) => messages.push({ at: Date.now(), text: buf.toString() }));
  sock.bind(path);
  return { path, messages, close: () => sock.close() };
}

/** Polls until `cond` holds; fails naming `what` after the timeout. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
