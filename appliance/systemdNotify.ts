import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  close(): void;
  on(event: "error", cb: (err: Error) => void): void;
}

/**
 * The systemd notify protocol (sd_notify) over a unix datagram socket.
 * Node has no AF_UNIX/SOCK_DGRAM of its own, so this uses the unix-dgram addon.
 * Without NOTIFY_SOCKET every call is a no-op, so development runs are unaffected.
 */
export class SystemdNotifier {
  private socket: DgramSocket | undefined;
  readonly path: string | undefined;
  /** Half of WATCHDOG_USEC in ms, when systemd asked for watchdog pings for this process. */
  readonly watchdogIntervalMs: number | undefined;

  constructor(env: NodeJS.ProcessEnv = process.env, private readonly onError: (err: Error) => void = () => {}) {
    const path = env.NOTIFY_SOCKET;
    // unix-dgram copies sun_path as a C string, so abstract sockets ("@name") cannot be reached.
    this.path = path && !path.startsWith("@") ? path : undefined;
    if (path?.startsWith("@")) onError(new Error(`NOTIFY_SOCKET ${path} is abstract; notifications disabled`));
    const usec = Number(env.WATCHDOG_USEC);
    const pidOk = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
    this.watchdogIntervalMs = this.path && Number.isFinite(usec) && usec > 0 && pidOk ? Math.max(1, Math.floor(usec / 2000)) : undefined;
  }

  get enabled(): boolean {
    return this.path !== undefined;
  }

  /** Sends "KEY=VALUE" lines; resolves false when disabled or on failure (never throws). */
  notify(state: string): Promise<boolean> {
    const path = this.path;
    if (!path) return Promise.resolve(false);
    if (!this.socket) {
      const unix = require("unix-dgram") as { createSocket(type: "unix_dgram"): DgramSocket };
      this.socket = unix.createSocket("unix_dgram");
      this.socket.on("error", (err) => this.onError(err));
    }
    const buf = Buffer.from(state);
    return new Promise((resolve) => {
      this.socket!.send(buf, 0, buf.length, path, (err) => {
        if (err) this.onError(err);
        resolve(!err);
      });
    });
  }

  ready(status?: string): Promise<boolean> {
    return this.notify(status ? `READY=1\nSTATUS=${status}` : "READY=1");
  }

  watchdog(): Promise<boolean> {
    return this.notify("WATCHDOG=1");
  }

  stopping(): Promise<boolean> {
    return this.notify("STOPPING=1");
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }
}
