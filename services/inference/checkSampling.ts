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
  const range = (param: string, v: number | undefined, min: number, max: number, integer = false) => {
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))))
      bad(param, `${param} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}.`, v);
  };
  range("top_k", s.topK, 0, 100_000, true);
  range("min_p", s.minP, 0, 1);
  range("frequency_penalty", s.frequencyPenalty, -2, 2);
  range("presence_penalty", s.presencePenalty, -2, 2);
  range("repeat_penalty", s.repeatPenalty, 0, 10);
  range("repeat_last_n", s.repeatLastN, 0, 4096, true);
  if (s.logitBias !== undefined) {
    const lb = s.logitBias;
    if (typeof lb !== "object" || lb === null || Array.isArray(lb) || Object.keys(lb).length > 300)
      bad("logit_bias", "logit_bias must be an object of at most 300 token ids mapped to numbers from -100 to 100.", lb);
    for (const [id, v] of Object.entries(lb)) {
      if (!/^\d{1,9}$/.test(id)) bad("logit_bias", `logit_bias keys are token ids (non-negative integers); got "${id}".`, id);
      if (typeof v !== "number" || !Number.isFinite(v) || v < -100 || v > 100) bad("logit_bias", `logit_bias["${id}"] must be a number from -100 to 100.`, v);
    }
  }
  if (s.stop !== undefined) {
    if (!Array.isArray(s.stop) || s.stop.length > 4 || s.stop.some((x) => typeof x !== "string" || x.length === 0 || x.length > 256))
      bad("stop", "stop must be at most 4 non-empty strings of at most 256 characters.", s.stop);
  }
}
