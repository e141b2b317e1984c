import { coreSettings } from "../../core/config/coreSettings.js";
import { boardSettings } from "./boardSetting.js";
import { federationSettings } from "../../services/federation/settings.js";
import { auditSettings } from "../../services/audit/settings.js";
import { limitsSettings } from "../plugins/limitsSettings.js";
import { selfCheckSettings } from "../plugins/selfCheckSettings.js";
import { authSettings } from "../../services/auth/settings.js";
import { inferenceSettings } from "../../services/inference/settings.js";
import { memorySettings } from "../../services/memory/settings.js";
import { schedulerSettings } from "../../services/scheduler/settings.js";
import { ollamaSettings } from "../../services/ollama/settings.js";
import { tlsSettings } from "../../services/tls/settings.js";
import { updateSettings } from "../../services/update/settings.js";
import type { Setting } from "../../core/config/setting.js";

export type { Config, SettingKey } from "../../core/config/Config.js";

/**
 * The whole settings table. Each service declares its settings next to its
 * code (services/<name>/settings.ts, which also types its keys of Config) and
 * they are joined here, once.
 */
export const settings: readonly Setting[] = [...boardSettings, ...coreSettings, ...tlsSettings, ...auditSettings, ...limitsSettings, ...selfCheckSettings, ...authSettings, ...inferenceSettings, ...memorySettings, ...schedulerSettings, ...federationSettings, ...ollamaSettings, ...updateSettings];
