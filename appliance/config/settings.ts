import { coreSettings } from "./coreSettings.js";
import { federationSettings } from "../../services/federation/settings.js";
import { auditSettings } from "../../services/audit/settings.js";
import { limitsSettings } from "../plugins/limitsSettings.js";
import { selfCheckSettings } from "../plugins/selfCheckSettings.js";
import { authSettings } from "../../services/auth/settings.js";
import { inferenceSettings } from "../../services/inference/settings.js";
import { memorySettings } from "../../services/memory/settings.js";
import { schedulerSettings } from "../../services/scheduler/settings.js";
import type { Setting } from "./setting.js";

/**
 * The whole settings table. Each service declares its settings next to its
 * code (services/<name>/settings.ts) and they are joined here, once.
 */
export const settings = [...coreSettings, ...auditSettings, ...limitsSettings, ...selfCheckSettings, ...authSettings, ...inferenceSettings, ...memorySettings, ...schedulerSettings, ...federationSettings] as const;

type Table = typeof settings;
type ValueOf<S> = S extends Setting<string, infer V> ? V : never;

/** The resolved configuration: one frozen object keyed by setting key. */
export type Config = { readonly [S in Table[number] as S["key"]]: ValueOf<S> };
export type SettingKey = keyof Config;
