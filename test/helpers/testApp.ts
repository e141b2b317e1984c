import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { buildApp } from "../../appliance/app.js";
import { resolveConfig } from "../../appliance/config/resolveConfig.js";
import { panelSettingsPath, readPanelSettings } from "../../appliance/config/panelSettings.js";
import type { Config } from "../../appliance/config/settings.js";
import { detectHardware } from "../../hardware/detectHardware.js";
import type { HardwareReport } from "../../hardware/HardwareFacts.js";
import { tuneForConfig } from "../../hardware/tuneForConfig.js";

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  dataDir: string;
  /** Closes the app and deletes its data dir. */
  close(): Promise<void>;
}

let cachedHardware: HardwareReport | undefined;

/**
 * Settings every test app starts from. Overload shedding is pushed out of
 * reach: suites check behaviour on a busy 2-core CI machine, where a model
 * load can stall the loop for a second; test/integration/limits.test.ts
 * sets its own threshold to prove the shedding itself.
 */
export const testSettings: Readonly<Record<string, unknown>> = {
  "log.level": "silent",
  "limits.maxEventLoopDelayMs": 60_000,
};

/**
 * Builds the real app over a fresh temp data dir (real SQLite file, real
 * services) with this machine's real hardware report. `settings` are flag-layer values by key.
 */
export async function buildTestApp(
  settings: Record<string, unknown> = {},
  options: {
    dataDir?: string;
    logger?: Logger;
    /** Registered before ready(), e.g. a probe route standing in for another service. */
    beforeReady?: (app: FastifyInstance) => void | Promise<void>;
  } = {},
): Promise<TestApp> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "sovereign-test-"));
  // Settings saved from the panel in an earlier app on this data dir apply, as they do for `sovereign serve`.
  const panelPath = panelSettingsPath(dataDir);
  const panel = readPanelSettings(panelPath);
  const { config, sources } = resolveConfig({ env: {}, flags: { "paths.dataDir": dataDir, ...testSettings, ...settings }, ...(panel ? { panel, panelPath } : {}) });
  const hardware = (cachedHardware ??= await detectHardware());
  const tuning = tuneForConfig(hardware.facts, config);
  const app = await buildApp({ config, hardware, tuning, logger: options.logger ?? false, sources });
  const extra = options.beforeReady;
  if (extra) await app.register(async (child) => extra(child));
  await app.ready();
  return {
    app,
    config,
    dataDir,
    close: async () => {
      await app.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
