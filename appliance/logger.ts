import type { LoggerOptions } from "pino";
import type { Config } from "./config/settings.js";

/**
 * Paths pino redacts wherever they appear in a log line. Secrets must never
 * reach a log file or the journal: passwords, setup codes, keys, tokens.
 */
export const redactPaths = [
  "req.headers.authorization",
  "req.headers.cookie",
  "req.headers[\"x-csrf-token\"]",
  "res.headers[\"set-cookie\"]",
  "*.password",
  "*.newPassword",
  "*.currentPassword",
  "*.setupCode",
  "*.code",
  "*.token",
  "*.apiKey",
  "*.key",
  "*.secret",
  "*.passphrase",
  "*.privateKey",
  "password",
  "setupCode",
  "token",
  "apiKey",
  "secret",
  "passphrase",
  "privateKey",
];

/**
 * A URL as the log shows it: the path, and the query's parameter names with
 * their values left out. Memory searches, filters and other user content
 * travel in query strings, and a log is no place for them.
 */
export function redactUrl(url: string): string {
  const i = url.indexOf("?");
  if (i < 0 || i === url.length - 1) return url;
  const names = url
    .slice(i + 1)
    .split("&")
    .map((pair) => `${(pair.includes("=") ? pair.slice(0, pair.indexOf("=")) : pair).slice(0, 64)}=…`);
  return `${url.slice(0, i)}?${names.join("&")}`;
}

/** The request as a log line shows it (fastify's fields), with the query's values redacted. */
function requestSerializer(req: { method?: string; url?: string; host?: string; ip?: string; headers?: Record<string, unknown>; socket?: { remoteAddress?: string; remotePort?: number } }) {
  return {
    method: req.method,
    url: redactUrl(String(req.url ?? "")),
    host: req.host ?? req.headers?.host,
    remoteAddress: req.ip ?? req.socket?.remoteAddress,
    remotePort: req.socket?.remotePort,
  };
}

/** pino options for the node: JSON in production, pretty on a developer's terminal. */
export function loggerOptions(config: Pick<Config, "log.level" | "log.format">, isTty = Boolean(process.stdout.isTTY)): LoggerOptions {
  const format = config["log.format"];
  const pretty = format === "pretty" || (format === "auto" && isTty && process.env.NODE_ENV !== "production");
  const base: LoggerOptions = {
    level: config["log.level"],
    redact: { paths: redactPaths, censor: "[redacted]" },
    serializers: { req: requestSerializer },
  };
  if (!pretty) return base;
  return { ...base, transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss", ignore: "pid,hostname" } } };
}
