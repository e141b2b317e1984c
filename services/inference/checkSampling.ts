import { SovereignError } from "../../core/errors/SovereignError.js";
import type { SamplingOptions } from "./types.js";

function bad(param: string, message: string, actual: unknown): never {
  throw new SovereignError("INVALID_SAMPLING", message, { details: { param, actual } });
}

/** Checks per-request sampling values against the ranges OpenAI's API documents. */
export function checkSampling(s: SamplingOptions): void {
  const t = s.temperature;
  if (t !== undefined && (typeof t !== "number" || !Number.isFinite(t) || t < 0 || t > 2)) bad("temperature", "temperature must be a number from 0 to 2.", t);
  const p = s.topP;
  if (p !== undefined && (typeof p !== "number" || !Number.isFinite(p) || p <= 0 || p > 1)) bad("top_p", "top_p must be a number above 0 and at most 1.", p);
  const m = s.maxTokens;
  if (m !== undefined && (!Number.isInteger(m) || m < 1)) bad("max_tokens", "max_tokens must be an integer of at least 1.", m);
  const seed = s.seed;
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)) bad("seed", "seed must be an integer from 0 to 4294967295.", seed);
  if (s.stop !== undefined) {
    if (!Array.isArray(s.stop) || s.stop.length > 4 || s.stop.some((x) => typeof x !== "string" || x.length === 0 || x.length > 256))
      bad("stop", "stop must be at most 4 non-empty strings of at most 256 characters.", s.stop);
  }
}
