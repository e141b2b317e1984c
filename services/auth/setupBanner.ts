import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";

/**
 * The URLs a person can open to reach a node listening on host:port. A
 * wildcard host (0.0.0.0, ::) is every address: this machine's own name
 * first, then each LAN IPv4 address (link-local and internal ones left out).
 */
export function listenUrls(host: string, port: number, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(), scheme: "http" | "https" = "http"): string[] {
  const url = (h: string) => `${scheme}://${h.includes(":") ? `[${h}]` : h}:${port}/`;
  if (host !== "0.0.0.0" && host !== "::") return [url(host === "127.0.0.1" || host === "::1" ? "localhost" : host)];
  const lan = Object.values(interfaces)
    .flatMap((list) => list ?? [])
    .filter((i) => i.family === "IPv4" && !i.internal && !i.address.startsWith("169.254."))
    .map((i) => url(i.address));
  return [url("localhost"), ...new Set(lan)];
}

export interface SetupBannerInput {
  code: string;
  urls: readonly string[];
  /** The SHA-256 fingerprint of the node's TLS certificate, once the node serves HTTPS, so the first visit can be checked. */
  tlsFingerprint?: string | undefined;
}

/** The console banner of an unclaimed node: framed so it stands out from log lines. */
export function renderSetupBanner(input: SetupBannerInput): string {
  const lines = [
    "This node is not claimed yet.",
    "",
    `Setup code:  ${input.code}`,
    "",
    input.urls.length > 1 ? "Open one of these in a browser and enter the code:" : "Open this in a browser and enter the code:",
    ...input.urls.map((u) => `  ${u}`),
    ...(input.tlsFingerprint ? ["", "The page's certificate fingerprint (SHA-256) must read:", `  ${input.tlsFingerprint}`] : []),
    "",
    "`sovereign setup-code` shows the code again.",
  ];
  const width = Math.max(...lines.map((l) => l.length));
  const rule = "═".repeat(width + 4);
  return [`╔${rule}╗`, ...lines.map((l) => `║  ${l.padEnd(width)}  ║`), `╚${rule}╝`].join("\n");
}

/** The same facts on one line, for JSON logs and the journal. */
export function setupBannerLine(input: SetupBannerInput): string {
  const tls = input.tlsFingerprint ? `; certificate fingerprint ${input.tlsFingerprint}` : "";
  return `This node is not claimed yet. Setup code: ${input.code}. Open ${input.urls.join(" or ")} and enter it${tls}.`;
}

export interface SetupBannerOptions {
  /** Reads the current code; undefined once it is gone (the node was claimed). */
  code(): string | undefined;
  isClaimed(): boolean;
  urls: readonly string[];
  tlsFingerprint?: string | undefined;
  /** Writes the banner (or its one-line form) where the person at the console sees it. */
  print(banner: SetupBannerInput): void;
  /** How often to repeat it until the node is claimed; 0 prints it once. */
  everyMs: number;
}

/**
 * Prints the banner now and again every `everyMs` until the node is claimed,
 * so that the code is on screen whenever someone looks. Returns a stop function.
 */
export function startSetupBanner(o: SetupBannerOptions): () => void {
  const show = (): boolean => {
    const code = o.isClaimed() ? undefined : o.code();
    if (code === undefined) return false;
    o.print({ code, urls: o.urls, tlsFingerprint: o.tlsFingerprint });
    return true;
  };
  if (!show() || o.everyMs <= 0) return () => {};
  const timer = setInterval(() => {
    if (!show()) clearInterval(timer);
  }, o.everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
