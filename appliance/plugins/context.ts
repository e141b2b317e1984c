import fp from "fastify-plugin";
import { mkdirSync } from "node:fs";
import type { AppContext } from "../../services/appContext.js";

export type ContextOptions = AppContext;

/** Infrastructure: the frozen config, the settings table, the hardware report and the tuning every service reads. */
export const contextPlugin = fp<ContextOptions>(
  async (app, opts) => {
    mkdirSync(opts.config["paths.dataDir"], { recursive: true, mode: 0o700 });
    app.decorate("config", opts.config);
    app.decorate("hardware", opts.hardware);
    app.decorate("tuning", opts.tuning);
    app.decorate("settingTable", opts.settingTable);
  },
  { name: "sovereign-context" },
);
