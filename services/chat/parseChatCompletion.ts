import { bad, parseChatRequest, type ParsedGeneration } from "../inference/routes/parseOpenAi.js";
import type { ChatMessage, ToolsSpec } from "../inference/types.js";
import type { MemoryContextOptions } from "./types.js";

export interface ParsedChatCompletion extends ParsedGeneration {
  messages: ChatMessage[];
  /** Function calling (tools, tool_choice, parallel_tool_calls); undefined without tools. */
  tools: ToolsSpec | undefined;
  /** Extension: retrieved memory context (false: none). */
  memory: boolean | MemoryContextOptions;
}

/** An OpenAI chat completion body (inference's parser) with chat's extension field `memory`. */
export function parseChatCompletion(body: unknown): ParsedChatCompletion {
  const parsed = parseChatRequest(body);
  return { ...parsed, memory: parseMemory((body as Record<string, unknown>).memory) };
}

/** Extension field `memory`: true, false, or { top_k?, token_budget? }. */
function parseMemory(v: unknown): boolean | MemoryContextOptions {
  if (v === undefined || v === null || v === false) return false;
  if (v === true) return true;
  if (typeof v !== "object" || Array.isArray(v)) bad("memory", "memory must be true, false or an object { top_k, token_budget }.");
  const o = v as Record<string, unknown>;
  const out: MemoryContextOptions = {};
  for (const key of Object.keys(o)) if (key !== "top_k" && key !== "token_budget") bad(`memory.${key}`, `memory.${key} is not a known option (top_k, token_budget).`);
  if (o.top_k !== undefined) {
    if (typeof o.top_k !== "number" || !Number.isInteger(o.top_k) || o.top_k < 1 || o.top_k > 50) bad("memory.top_k", "memory.top_k must be an integer from 1 to 50.");
    out.topK = o.top_k;
  }
  if (o.token_budget !== undefined) {
    if (typeof o.token_budget !== "number" || !Number.isInteger(o.token_budget) || o.token_budget < 1 || o.token_budget > 100_000)
      bad("memory.token_budget", "memory.token_budget must be an integer from 1 to 100000.");
    out.tokenBudget = o.token_budget;
  }
  return out;
}
