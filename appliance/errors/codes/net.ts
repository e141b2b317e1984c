import type { ErrorEntry } from "../catalog.js";

export const netErrors = {
  CIRCUIT_OPEN: { status: 503, description: "Calls to that remote (a peer or a model mirror) are paused after repeated failures.", hint: "Wait for the time in Retry-After, and check that the remote is reachable." },
} as const satisfies Record<string, ErrorEntry>;
