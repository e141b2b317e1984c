import { pino, type Logger } from "pino";
import type { FastifyInstance } from "fastify";
import { buildApp } from "./app.js";
import type { Config } from "./config/settings.js";
import { loggerOptions } from "./logger.js";
import { SystemdNotifier } from "./systemdNotify.js";
import type { LayerName } from "./config/parseValue.js";
import { listenUrls, renderSetupBanner, setupBannerLine, startSetupBanner } from "../services/auth/setupBanner.js";
import { readSetupCode, setupCodePath } from "../services/auth/setupCodeFile.js";
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
export async function runServer(config: Config, options: { logger?: Logger; handleSignals?: boolean; sources?: Readonly<Record<string, LayerName>> } = {}): Promise<RunningServer> {
  const logOptions = loggerOptions(config);
  const logger = options.logger ?? pino(logOptions);
  const notifier = new SystemdNotifier(process.env, (err) => logger.warn({ err }, "systemd notify failed"));

  const hardware = await detectHardware();
  for (const w of hardware.warnings) logger.warn(`hardware: ${w}`);
  const calibration = loadCalibration(config["paths.dataDir"], {
    usableCpus: hardware.facts.cpu.usableCpus,
    onWarning: (w) => logger.warn(`hardware: ${w}`),
  });
  const tuning = tuneForConfig(hardware.facts, config, calibration);

  // Only systemd brings a stopped node back, so only under systemd does the panel offer "Restart now".
  const underSystemd = process.env.INVOCATION_ID !== undefined || process.env.NOTIFY_SOCKET !== undefined;
  const app = await buildApp({ config, hardware, tuning, logger, sources: options.sources, ...(underSystemd ? { restart: () => restartNow() } : {}) });
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
  const stopBanner = announceSetup(app, config, logger, Boolean(logOptions.transport) && !options.logger, https ? Number(new URL(https.url).port) : undefined);

  // Feed the watchdog only while every liveness check passes, so a wedged node gets restarted.
  let watchdogTimer: NodeJS.Timeout | undefined;
  if (notifier.watchdogIntervalMs !== undefined) {
    const interval = notifier.watchdogIntervalMs;
    // The start's own blocking (module loading, migrations, the first TLS key) is TimeoutStartSec's business:
    // the first check measures from READY. Seen under emulation: a 5.3 s start-up block failed the first check.
    app.health.resetWindows();
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
      stopBanner();
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

  // Called by the panel's restart route (hoisted: the app is built before `stop` exists, and calls it only later).
  function restartNow(): void {
    void stop("restart requested").then(
      () => process.exit(RESTART_EXIT_CODE),
      (err: unknown) => {
        logger.error({ err }, "shutdown before restart failed");
        process.exit(1);
      },
    );
  }

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

/**
 * The exit status of a restart the panel asked for. The unit lists it in
 * SuccessExitStatus (not a failure) and RestartForceExitStatus (started again).
 */
export const RESTART_EXIT_CODE = 75;

/**
 * While the node is unclaimed, the setup code and the URLs to open, framed on
 * a terminal (pretty logs) or as one warn line in JSON logs, repeated every
 * auth.setupBannerMinutes until someone claims the node.
 */
function announceSetup(app: FastifyInstance, config: Config, logger: Logger, framed: boolean, httpsPort?: number): () => void {
  const address = app.server.address();
  const port = address && typeof address === "object" ? address.port : config["server.port"];
  return startSetupBanner({
    code: () => readSetupCode(setupCodePath(config)),
    isClaimed: () => app.auth.isClaimed(),
    // With TLS the panel is at the HTTPS port, and the certificate's fingerprint lets the owner check it before typing the code.
    urls: app.tls ? listenUrls(config["server.host"], httpsPort ?? config["server.httpsPort"], undefined, "https") : listenUrls(config["server.host"], port),
    tlsFingerprint: app.tls?.fingerprint,
    print: (banner) => {
      if (framed) process.stdout.write(`\n${renderSetupBanner(banner)}\n\n`);
      else logger.warn(setupBannerLine(banner));
    },
    everyMs: config["auth.setupBannerMinutes"] * 60_000,
  });
}
