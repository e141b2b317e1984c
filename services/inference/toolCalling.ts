/**
 * Function calling on node-llama-cpp (runs where llama.cpp runs: a runner).
 * The model's own chat template says how tools are documented and how a call
 * is written; node-llama-cpp reads that syntax from it and generates the
 * function name and arguments under grammars built from the tools' schemas,
 * so arguments always parse and match. The engine stops at the call and
 * hands it back: the client runs its tools, never this node.
 */
import { randomBytes } from "node:crypto";
import {
  JinjaTemplateChatWrapper, LlamaChat, LlamaJsonSchemaValidationError, LlamaText,
  type ChatHistoryItem, type ChatModelFunctionCall, type ChatModelFunctions, type ChatWrapper,
  type LlamaChatResponseFunctionCall, type LlamaChatResponseFunctionCallParamsChunk, type LlamaContextSequence, type LlamaModel,
} from "node-llama-cpp";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { toGrammarSchema } from "./checkJsonSchema.js";
import type { ChatMessage, ToolCall, ToolCallDelta, ToolFunction, ToolsSpec } from "./types.js";

/** OpenAI-style call id: "call_" and 24 hex digits. */
export function newCallId(): string {
  return `call_${randomBytes(12).toString("hex")}`;
}

/** A tool result as the template gets it: JSON when the tool answered JSON, else the text. */
function resultValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The conversation as node-llama-cpp's chat history: assistant tool calls become function-call items carrying their results. */
export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  for (const m of messages) {
    if (m.role === "system") history.push({ type: "system", text: m.content });
    else if (m.role === "user") history.push({ type: "user", text: m.content });
    else {
      const response: (string | ChatModelFunctionCall)[] = m.content ? [m.content] : [];
      (m.toolCalls ?? []).forEach((c, i) => {
        response.push({
          type: "functionCall", name: c.function.name, params: resultValue(c.function.arguments), result: resultValue(c.result),
          ...(i === 0 ? { startsNewChunk: true } : {}),
        });
      });
      history.push({ type: "model", response });
    }
  }
  return history;
}

/** Why a model cannot call functions (null: it can). The generic "||call:" syntax node-llama-cpp falls back to is not the model's own. */
export function toolsUnsupportedReason(model: LlamaModel, wrapper: ChatWrapper): string | null {
  const template = (model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } }).tokenizer?.chat_template;
  if (typeof template !== "string" || template.trim() === "") return "its GGUF file has no chat template";
  if (wrapper instanceof JinjaTemplateChatWrapper) return wrapper.usingJinjaFunctionCallTemplate ? null : "its chat template has no tool-call syntax";
  const prefix = LlamaText(wrapper.settings.functions.call.prefix).toString();
  if (!/tool/i.test(template) || prefix.includes("||call:")) return "its chat template has no tool-call syntax";
  return null;
}

/**
 * A tool's parameters as the params grammar reads them. Arguments are always an
 * object (OpenAI's contract): a schema with properties but no type is one, and
 * an empty schema means no arguments ("{}"), not "any JSON value".
 */
function paramsSchema(parameters: object | undefined): ChatModelFunctions[string]["params"] {
  if (!parameters || Object.keys(parameters).length === 0) return undefined;
  const p = parameters as Record<string, unknown>;
  return toGrammarSchema(p.type === undefined ? { ...p, type: "object" } : p) as NonNullable<ChatModelFunctions[string]["params"]>;
}

/** The tools as node-llama-cpp's function definitions (name → description and params schema). */
export function toChatFunctions(functions: readonly ToolFunction[]): ChatModelFunctions {
  const out: Record<string, ChatModelFunctions[string]> = {};
  for (const f of functions) {
    const params = paramsSchema(f.parameters);
    out[f.name] = { ...(f.description ? { description: f.description } : {}), ...(params ? { params } : {}) };
  }
  return out;
}

/**
 * The template's wrapper, made to start the answer with a function call
 * (tool_choice "required" or a named function): node-llama-cpp then generates
 * the call prefix and a name from its grammar at once. The prompt still
 * documents every tool the client sent, even when only one may be called.
 */
function forcingWrapper(inner: ChatWrapper, documented: ChatModelFunctions, force: boolean): ChatWrapper {
  const wrapper = Object.create(inner) as ChatWrapper;
  wrapper.generateContextState = function (this: ChatWrapper, options) {
    const state = inner.generateContextState.call(this, { ...options, availableFunctions: documented, documentFunctionParams: true });
    return (force ? { ...state, prefixTriggers: undefined, noPrefixTrigger: { type: "functionCall" } } : state) as ReturnType<ChatWrapper["generateContextState"]>;
  };
  return wrapper;
}

/**
 * Streams calls in OpenAI's delta shape as node-llama-cpp generates them and
 * keeps each call's argument text, so the streamed pieces and the final
 * `arguments` are the same string. Trailing whitespace is held back: the
 * params grammar ends with newlines that are not part of the JSON.
 */
class CallCollector {
  private readonly ids: string[] = [];
  private readonly args: string[] = [];
  private held = "";
  private open = -1;

  constructor(private readonly onDelta?: (d: ToolCallDelta) => void) {}

  private start(index: number, name: string): void {
    if (this.open === index) return;
    this.open = index;
    this.held = "";
    this.ids[index] ??= newCallId();
    this.args[index] ??= "";
    this.onDelta?.({ index, id: this.ids[index], name, arguments: "" });
  }

  private emit(index: number, text: string): void {
    if (text === "") return;
    this.args[index] += text;
    this.onDelta?.({ index, arguments: text });
  }

  chunk(c: LlamaChatResponseFunctionCallParamsChunk): void {
    this.start(c.callIndex, c.functionName);
    const text = this.held + c.paramsChunk;
    const kept = text.trimEnd();
    this.held = c.done ? "" : text.slice(kept.length);
    this.emit(c.callIndex, kept);
  }

  /** A call is complete (a function without parameters sends no chunks: its arguments are "{}"). */
  called(index: number, name: string, params: unknown): void {
    this.start(index, name);
    if (this.args[index] === "") this.emit(index, JSON.stringify(params ?? {}));
    this.held = "";
  }

  calls(results: readonly LlamaChatResponseFunctionCall<ChatModelFunctions>[]): ToolCall[] {
    return results.map((r, i) => ({
      id: this.ids[i] ?? newCallId(), type: "function" as const,
      function: { name: r.functionName, arguments: this.args[i] || JSON.stringify(r.params ?? {}) },
    }));
  }
}

/**
 * node-llama-cpp checks each call it parses against the schema; the grammar
 * guarantees the syntax, yet a value can still fail that check (an integer of
 * hundreds of digits reads as Infinity). That is the model's output, not a
 * fault of the node: TOOL_CALL_INVALID (502), naming the model.
 */
export function toolCallFailure(modelName: string, err: unknown): unknown {
  const name = (err as Error)?.constructor?.name;
  if (!(err instanceof LlamaJsonSchemaValidationError) && name !== "LlamaFunctionCallValidationError") return err;
  return new SovereignError("TOOL_CALL_INVALID", `The model "${modelName}" wrote a function call whose arguments do not validate: ${(err as Error).message}.`, { cause: err, details: { model: modelName } });
}

/** What one generation with tools adds to LlamaChat.generateResponse, and the chat to run it on. */
export interface ToolRun {
  /** The chat to generate with: the slot's own, or one that forces a call (disposed by `dispose`). */
  chat: LlamaChat;
  /** Functions documented in the prompt (for counting prompt tokens). */
  documented: ChatModelFunctions;
  /** Empty for tool_choice "none": the tools are documented in the prompt, and no call can be made. */
  options: {
    functions?: ChatModelFunctions;
    documentFunctionParams?: true;
    maxParallelFunctionCalls?: number;
    onFunctionCallParamsChunk?: (c: LlamaChatResponseFunctionCallParamsChunk) => void;
    onFunctionCall?: (c: LlamaChatResponseFunctionCall<ChatModelFunctions>) => void;
  };
  calls(results: readonly LlamaChatResponseFunctionCall<ChatModelFunctions>[]): ToolCall[];
  dispose(): void;
}

/**
 * Sets up function calling for one generation on `chat`'s sequence, or throws
 * TOOLS_UNSUPPORTED naming the model when its template cannot express calls.
 * tool_choice "none": the tools are only documented in the prompt (as OpenAI
 * does), and a model that cannot call functions gets a plain prompt (null).
 */
export function prepareToolRun(modelName: string, chat: LlamaChat, sequence: LlamaContextSequence, tools: ToolsSpec, onDelta?: (d: ToolCallDelta) => void): ToolRun | null {
  const reason = toolsUnsupportedReason(chat.model, chat.chatWrapper);
  if (reason && tools.choice === "none") return null;
  if (reason)
    throw new SovereignError("TOOLS_UNSUPPORTED", `The model "${modelName}" cannot call functions: ${reason}.`, { details: { param: "tools", model: modelName } });
  const documented = toChatFunctions(tools.functions);
  if (tools.choice === "none") {
    const docChat = new LlamaChat({ contextSequence: sequence, chatWrapper: forcingWrapper(chat.chatWrapper, documented, false), autoDisposeSequence: false });
    return { chat: docChat, documented, options: {}, calls: () => [], dispose: () => docChat.dispose({ disposeSequence: false }) };
  }
  const choice = tools.choice;
  const named = typeof choice === "object" ? choice.name : null;
  let functions = documented;
  if (named !== null) {
    const only = documented[named];
    if (!only) throw new SovereignError("BAD_REQUEST", `tool_choice names "${named}", which is not in tools.`, { details: { param: "tool_choice" } });
    functions = { [named]: only };
  }
  const forced = choice === "required" || named !== null;
  const runChat = forced ? new LlamaChat({ contextSequence: sequence, chatWrapper: forcingWrapper(chat.chatWrapper, documented, true), autoDisposeSequence: false }) : chat;
  const collector = new CallCollector(onDelta);
  let made = 0;
  return {
    chat: runChat,
    documented,
    options: {
      functions, documentFunctionParams: true,
      // A named function is called once; otherwise parallel_tool_calls decides.
      ...(named !== null || !tools.parallel ? { maxParallelFunctionCalls: 1 } : {}),
      onFunctionCallParamsChunk: (c) => collector.chunk(c),
      onFunctionCall: (c) => collector.called(made++, c.functionName, c.params),
    },
    calls: (results) => collector.calls(results),
    dispose: () => {
      if (runChat !== chat) runChat.dispose({ disposeSequence: false });
    },
  };
}
