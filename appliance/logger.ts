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

/** pino options for the node: JSON in production, pretty on a developer's terminal. */
export function loggerOptions(config: Pick<Config, "log.level" | "log.format">, isTty = Boolean(process.stdout.isTTY)): LoggerOptions {
  const format = config["log.format"];
  const pretty = format === "pretty" || (format === "auto" && isTty && process.env.NODE_ENV !== "production");
  const base: LoggerOptions = {
    level: config["log.level"],
    redact: { paths: redactPaths, censor: "[redacted]" },
  };
  if (!pretty) return base;
  return { ...base, transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss", ignore: "pid,hostname" } } };
}
