import type { Config } from "../core/config/Config.js";
import type { Setting } from "../core/config/setting.js";
import type { HardwareReport } from "../hardware/HardwareFacts.js";
import type { Tuning } from "../hardware/Tuning.js";

/**
 * What the composition root hands every service (appliance/plugins/context.ts
 * decorates it): typed here, below the services, so that they read it without
 * importing the composition root.
 */
declare module "fastify" {
  interface FastifyInstance {
    config: Config;
    hardware: HardwareReport;
    tuning: Tuning;
    /** The whole settings table, for routes that describe or edit settings. */
    settingTable: readonly Setting[];
  }
  interface FastifyContextConfig {
    /**
     * Who may call the route. Absent means an authenticated user or key is
     * required. "public" routes are the short named allow-list (see the auth service);
     * "loopbackOrScope" answers the node itself without credentials and anyone else with `scope`.
     */
    access?: "public" | "setup" | "loopback" | "loopbackOrScope";
  }
}

export interface AppContext {
  config: Config;
  hardware: HardwareReport;
  tuning: Tuning;
  settingTable: readonly Setting[];
}
