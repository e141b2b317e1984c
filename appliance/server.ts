import { pino, type Logger } from "pino";
import type { FastifyInstance } from "fastify";
import { buildApp } from "./app.js";
import type { Config } from "./config/settings.js";
import { loggerOptions } from "./logger.js";
import { SystemdNotifier } from "./systemdNotify.js";
import { listenExtra, type ExtraListener } from "./extraListener.js";
import { detectHardware } from "../hardware/detectHardware.js";
import { tuneForConfig } from "../hardware/tuneForConfig.js";
import { loadCalibration } from "../hardware/calibrationStore.js";

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  /** Graceful stop, bounded by server.shutdownTimeoutMs. */
  stop(reason: string): Promise<void>;
}

/**
 * `sovereign serve`: detect, tune, assemble, listen, tell systemd, and stop
 * gracefully on SIGTERM/SIGINT within the configured bound.
 */
export async function runServer(config: Config, options: { logger?: Logger; handleSignals?: boolean } = {}): Promise<RunningServer> {
  const logger = options.logger ?? pino(loggerOptions(config));
  const notifier = new SystemdNotifier(process.env, (err) => logger.warn({ err }, "systemd notify failed"));

  const hardware = await detectHardware();
  for (const w of hardware.warnings) logger.warn(`hardware: ${w}`);
  const calibration = loadCalibration(config["paths.dataDir"], {
    usableCpus: hardware.facts.cpu.usableCpus,
    onWarning: (w) => logger.warn(`hardware: ${w}`),
  });
  const tuning = tuneForConfig(hardware.facts, config, calibration);

  const app = await buildApp({ config, hardware, tuning, logger });
  const url = await app.listen({ host: config["server.host"], port: config["server.port"] });
  const host = config["server.host"];
  const extra: ExtraListener[] = [];
  // HTTPS beside the plain port, which then serves only /healthz and loopback (services/tls redirects the rest).
  const https = app.tls ? await listenExtra(app, { host, port: config["server.httpsPort"], tls: app.tls }) : undefined;
  if (https) {
    extra.push(https);
    logger.info({ url: https.url, fingerprint: app.tls?.fingerprint }, "serving HTTPS");
  }
  const ollamaPort = config["ollama.port"];
  if (ollamaPort !== null) {
    const ollama = await listenExtra(app, { host, port: ollamaPort, prefix: "/ollama", ...(app.tls ? { tls: app.tls } : {}) });
    extra.push(ollama);
    logger.info({ url: ollama.url }, "Ollama-compatible API serving");
  }
  await notifier.ready(`serving on ${url}`);
  logger.info({ url, dataDir: config["paths.dataDir"] }, "sovereign node serving");

  // Feed the watchdog only while every liveness check passes, so a wedged node gets restarted.
  let watchdogTimer: NodeJS.Timeout | undefined;
  if (notifier.watchdogIntervalMs !== undefined) {
    const interval = notifier.watchdogIntervalMs;
    let running = false;
    watchdogTimer = setInterval(() => {
      if (running) return;
      running = true;
      void app.health
        .run({ livenessOnly: true, timeoutMs: Math.max(50, Math.floor(interval / 2)) })
        .then(async (results) => {
          const failed = Object.entries(results).filter(([, r]) => !r.ok);
          if (failed.length === 0) await notifier.watchdog();
          else logger.error({ failed: Object.fromEntries(failed) }, "self-check failed; withholding watchdog ping");
        })
        .finally(() => {
          running = false;
        });
    }, interval);
    watchdogTimer.unref();
  }

  let stopping: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, "shutting down");
      if (watchdogTimer) clearInterval(watchdogTimer);
      await notifier.stopping();
      const timeoutMs = config["server.shutdownTimeoutMs"];
      const force = setTimeout(() => {
        logger.error({ timeoutMs }, "graceful shutdown timed out; exiting");
        process.exit(1);
      }, timeoutMs);
      force.unref();
      try {
        await Promise.all(extra.map((l) => l.close()));
        await app.close();
      } finally {
        clearTimeout(force);
        notifier.close();
      }
      logger.info("stopped");
    })();
    return stopping;
  };

  if (options.handleSignals !== false) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => {
        void stop(signal).then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error({ err }, "shutdown failed");
            process.exit(1);
          },
        );
      });
    }
  }
  return { app, url, stop };
}
