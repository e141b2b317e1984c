import { existsSync, statSync } from "node:fs";

/**
 * Whether the system clock can be trusted for expiry checks. A Raspberry Pi
 * has no real-time clock: until systemd-timesyncd reaches an NTP server it
 * runs from the last known time (timesyncd's clock file, or the image's build
 * time in /usr/lib/clock-epoch), which can be days or months behind. Checks
 * that compare against the clock (signed manifests, message timestamps,
 * certificate renewal) then tolerate what only a slow clock explains and say
 * so in the log, instead of refusing peers silently.
 */
export interface ClockState {
  /** timesyncd has synchronized since boot; null where timesyncd does not run (a dev machine), so nothing is known. */
  synced: boolean | null;
  /** The clock reads earlier than the image was built, so it is certainly wrong. */
  beforeBuild: boolean;
  /** The image's build time (clock-epoch's mtime), when there is one. */
  buildTime: number | null;
  now: number;
}

export interface ClockPaths {
  /** timesyncd touches this once it has synchronized (systemd ≥ 239). */
  synchronized: string;
  /** timesyncd's runtime directory: present when timesyncd runs at all. */
  timesyncDir: string;
  /** The image's build time, which systemd moves an earlier clock forward to at boot. */
  epoch: string;
}

export const SYSTEM_CLOCK_PATHS: ClockPaths = {
  synchronized: "/run/systemd/timesync/synchronized",
  timesyncDir: "/run/systemd/timesync",
  epoch: "/usr/lib/clock-epoch",
};

export function readClockState(now = Date.now(), paths: ClockPaths = SYSTEM_CLOCK_PATHS): ClockState {
  const synced = existsSync(paths.synchronized) ? true : existsSync(paths.timesyncDir) ? false : null;
  let buildTime: number | null = null;
  try {
    buildTime = statSync(paths.epoch).mtimeMs;
  } catch {
    buildTime = null;
  }
  return { synced, beforeBuild: buildTime !== null && now < buildTime, buildTime, now };
}

/** The clock may be behind the real time: not synchronized yet, or earlier than the build. */
export function clockUntrusted(s: ClockState): boolean {
  return s.synced === false || s.beforeBuild;
}

/** One line for the log saying why the clock is not trusted. */
export function describeClock(s: ClockState): string {
  const at = new Date(s.now).toISOString();
  if (s.beforeBuild && s.buildTime !== null) return `the clock (${at}) is earlier than the image's build (${new Date(s.buildTime).toISOString()})`;
  if (s.synced === false) return `the clock (${at}) has not been synchronized by NTP since boot`;
  return `the clock (${at}) is trusted`;
}

/** readClockState, re-read at most every `ttlMs` (two stats; inbound messages check it often). */
export function cachedClockState(ttlMs = 10_000, paths: ClockPaths = SYSTEM_CLOCK_PATHS): () => ClockState {
  let last: ClockState | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.now > ttlMs || now < last.now) last = readClockState(now, paths);
    return { ...last, now, beforeBuild: last.buildTime !== null && now < last.buildTime };
  };
}
