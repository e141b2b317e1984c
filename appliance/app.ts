import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { settings, type Config } from "./config/settings.js";
import type { HardwareReport } from "../hardware/HardwareFacts.js";
import type { Tuning } from "../hardware/Tuning.js";
import { loggerOptions } from "./logger.js";
import { QuietLogController } from "./QuietLogController.js";
import { contextPlugin } from "./plugins/context.js";
import { errorHandlerPlugin } from "./plugins/errorHandler.js";
import { healthPlugin } from "./plugins/health.js";
import { jsonBodyPlugin } from "./plugins/jsonBody.js";
import { routeCatalogPlugin } from "./plugins/routeCatalog.js";
import { servicePlugins } from "./services.js";
import { settingsEditPlugin } from "./plugins/settingsEdit.js";
import type { LayerName } from "./config/parseValue.js";
import "./errors/catalog.js";

export interface BuildAppOptions {
  config: Config;
  hardware: HardwareReport;
  tuning: Tuning;
  /** A ready pino logger (tests pass a silent one); otherwise one is made from the config. */
  logger?: Logger | false;
  /** Which layer set each setting (the panel's Settings page says when env or a flag overrides it). */
  sources?: Readonly<Record<string, LayerName>>;
  /** Ends the process for systemd to start again (the panel's "Restart now"); absent where nothing would restart it. */
  restart?: () => void;
}

/**
 * Assembles the node from plugins in three stages: infrastructure, services,
 * routes. It never listens: `main` does, and tests use inject() or port 0.
 */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const logging =
    options.logger === false ? { logger: false as const } : options.logger ? { loggerInstance: options.logger as FastifyBaseLogger } : { logger: loggerOptions(config) };
  const app = Fastify({
    ...logging,
    // One debug line per request instead of fastify's two at info (see QuietLogController).
    logController: new QuietLogController(),
    bodyLimit: config["server.bodyLimitBytes"],
    // A slow or silent client must not hold a connection open forever.
    requestTimeout: 120_000,
    connectionTimeout: 0,
    keepAliveTimeout: 5_000,
    // How often Node sweeps for connections past headersTimeout/requestTimeout (its default, 30 s, lets slow-header sockets linger).
    http: { connectionsCheckingInterval: 1_000 },
    return503OnClosing: true,
    trustProxy: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  // Node's own header timeout also bounds slow-header (slowloris) connections.
  app.server.headersTimeout = 15_000;

  // Stage 1: infrastructure.
  await app.register(routeCatalogPlugin);
  await app.register(contextPlugin, { config, hardware: options.hardware, tuning: options.tuning, settingTable: settings });
  await app.register(errorHandlerPlugin);
  await app.register(jsonBodyPlugin);
  await app.register(healthPlugin);

  // Stages 2 and 3: each service plugin registers its own routes in its scope.
  for (const plugin of servicePlugins) await app.register(plugin);
  // The settings editor needs the layers and the process, which only the composition root knows.
  await app.register(settingsEditPlugin, { sources: options.sources, restart: options.restart });

  return app;
}
