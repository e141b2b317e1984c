import type { Setting } from "./setting.js";

/**
 * The resolved configuration: one frozen object keyed by setting key. Each
 * settings table adds its keys by declaration merging
 * (`interface Config extends SettingValues<typeof mySettings> {}`), so a
 * service types its own keys without importing the composition root.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Config {}

export type SettingKey = Extract<keyof Config, string>;

type ValueOf<S> = S extends Setting<string, infer V> ? V : never;

/** The config members one settings table declares. */
export type SettingValues<T extends readonly Setting[]> = { readonly [S in T[number] as S["key"]]: ValueOf<S> };
