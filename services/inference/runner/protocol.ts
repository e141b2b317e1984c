/**
 * The messages between the node and a runner process, over Node's IPC channel
 * (JSON). Every request carries an id; the runner answers it with exactly one
 * `ok` or `error`, and a generation streams `text` messages before that.
 */
import type { ChatMessage } from "../types.js";
import type { EngineRun, EngineSettings, EngineStats, GrammarSpec } from "../InferenceEngine.js";
import type { SamplingOptions, ToolCallDelta, ToolsSpec } from "../types.js";

export interface LoadRequest {
  op: "load";
  id: number;
  name: string;
  path: string;
  kind: "llm" | "embedding";
  settings: EngineSettings;
}

export interface GenerateRequestMsg {
  op: "generate";
  id: number;
  mode: "chat" | "complete";
  messages?: ChatMessage[];
  prompt?: string;
  sampling: SamplingOptions;
  grammar?: GrammarSpec;
  /** Chat: functions the model may call; their calls stream back as `tool` messages and end in the result. */
  tools?: ToolsSpec;
  key?: string | null;
  defaultMaxTokens: number;
}

export type NodeToRunner =
  | LoadRequest
  | { op: "unload"; id: number }
  | GenerateRequestMsg
  /** Stops the generation whose request id is `target` (it then ends with finishReason "abort"). */
  | { op: "cancel"; id: number; target: number }
  | { op: "embed"; id: number; texts: string[] }
  | { op: "tokenize"; id: number; text: string }
  | { op: "chatTokens"; id: number; messages: ChatMessage[] }
  | { op: "stats"; id: number }
  | { op: "ping"; id: number };

export type RunnerOp = NodeToRunner["op"];

/** What a loaded model reports back. */
export interface LoadedInfo {
  contextSize: number;
  /** Set for embedding models once known. */
  dimensions: number | null;
}

export interface RunnerStats extends EngineStats {
  rssBytes: number;
  heapUsedBytes: number;
  busySlots: number;
  model: string | null;
}

export interface EmbedResultMsg {
  /** One vector per text, as plain arrays (JSON). */
  vectors: number[][];
  tokens: number;
  dimensions: number | null;
}

/** What each op answers with. */
export interface RunnerResults {
  load: LoadedInfo;
  unload: null;
  generate: EngineRun;
  cancel: null;
  embed: EmbedResultMsg;
  tokenize: number;
  chatTokens: number;
  stats: RunnerStats;
  ping: null;
}

/** A SovereignError, flattened for the channel. */
export interface WireError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
  hint?: string;
}

export type RunnerToNode =
  /** Sent once the llama.cpp binding is loaded: the runner takes requests. */
  | { type: "ready"; pid: number }
  | { type: "text"; id: number; text: string }
  /** A piece of a tool call as it is generated (OpenAI's delta: the first of a call has its id and name). */
  | { type: "tool"; id: number; delta: ToolCallDelta }
  | { type: "ok"; id: number; value: unknown }
  | { type: "error"; id: number; error: WireError }
  | { type: "log"; level: "warn" | "error" | "info"; message: string };
