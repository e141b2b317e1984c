import fp from "fastify-plugin";
import { mkdirSync } from "node:fs";
import type { Config } from "../config/settings.js";
import type { HardwareReport } from "../../hardware/HardwareFacts.js";
import type { Tuning } from "../../hardware/Tuning.js";

declare module "fastify" {
  interface FastifyInstance {
    config: Config;
    hardware: HardwareReport;
    tuning: Tuning;
  }
  interface FastifyContextConfig {
    /**
     * Who may call the route. Absent means an authenticated user or key is
     * required. "public" routes are the short named allow-list (see the auth service).
     */
    access?: "public" | "setup" | "loopback";
  }
}

export interface ContextOptions {
  config: Config;
  hardware: HardwareReport;
  tuning: Tuning;
}

/** Infrastructure: the frozen config, the hardware report and the tuning every service reads. */
export const contextPlugin = fp<ContextOptions>(
  async (app, opts) => {
    mkdirSync(opts.config["paths.dataDir"], { recursive: true, mode: 0o700 });
    app.decorate("config", opts.config);
    app.decorate("hardware", opts.hardware);
    app.decorate("tuning", opts.tuning);
  },
  { name: "sovereign-context" },
);
