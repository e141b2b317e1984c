import type { HardwareFacts } from "./HardwareFacts.js";

/**
 * The raw files detection looked at, keyed by their absolute path on the
 * device ("/proc/cpuinfo"). A snapshot is plain data: the reader fills it from
 * a real root or a fixture directory, and the parsers only ever see this.
 */
export interface Snapshot {
  /** Contents of files that could be read. */
  files: Record<string, string>;
  /** Targets of symbolic links (readlink), e.g. /sys/dev/block/179:2. */
  links: Record<string, string>;
  /** Entries of directories that were listed (filtered to what matters). */
  dirs: Record<string, string[]>;
  /** Paths that exist but could not be read, with the error code (EACCES, EIO...). */
  unreadable: Record<string, string>;
}

/** What cannot be read from files: only meaningful for the live root "/", never for a fixture. */
export interface SnapshotHints {
  /** process.arch mapped to ours; when absent the arch is inferred from /proc/cpuinfo. */
  arch?: HardwareFacts["arch"];
  /** os.availableParallelism(): the affinity mask as Node sees it. */
  availableParallelism?: number;
}

export function emptySnapshot(): Snapshot {
  return { files: {}, links: {}, dirs: {}, unreadable: {} };
}
