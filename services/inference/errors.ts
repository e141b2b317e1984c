import { defineErrors, type CodesOf } from "../../core/errors/catalog.js";

/** Errors of services/inference: models, the engine, the queue and the OpenAI API. */
export const inferenceErrors = defineErrors("inference", {
  MODEL_NOT_FOUND: { status: 404, description: "No installed model has this name.", hint: "The Models page (/#/models) lists the installed models (or GET /v1/models, `sovereign model list`)." },
  MODEL_INVALID: { status: 422, description: "The model file is not a well-formed GGUF (or ONNX) file: its header, counts or tensor ranges are wrong. It never reaches llama.cpp.", hint: "Download the file again; check its sha256 against the publisher's." },
  MODEL_CHECKSUM_MISMATCH: { status: 422, description: "The model file's sha256 differs from the expected one; nothing was installed.", hint: "Check the sha256 you gave, or download the file again." },
  MODEL_EXISTS: { status: 409, description: "A model with this name is already installed.", hint: "Pick another --name, or remove the installed one first." },
  MODEL_FILE_REFUSED: { status: 422, description: "The path does not name a GGUF model file inside an import directory. Every path that is not an acceptable model (missing, not a regular file, outside the import directories, or not GGUF) gets this same answer, so the route tells nothing about other files on the node.", hint: "Copy the file into <dataDir>/import (or a directory of inference.importDirs) and give its absolute path, or upload it on the Models page." },
  MODEL_FILE_MISSING: { status: 404, description: "The model's file is missing from the models directory." , hint: "Verify it on the Models page (/#/models) and add the model again (or `sovereign model verify`)." },
  MODEL_WRONG_KIND: { status: 400, description: "The named model cannot serve this request (a chat model for embeddings, or the reverse)." },
  NO_MODEL: { status: 404, description: "No model of the needed kind is installed, so there is nothing to answer with.", hint: "Open Models in the panel (/#/models) to upload a GGUF file or pull one from a URL, or run `sovereign model add FILE`." },
  ENGINE_UNAVAILABLE: { status: 503, description: "The inference engine could not start on this machine (no prebuilt llama.cpp binary fits it, or loading failed)." },
  MODEL_LOAD_FAILED: { status: 503, description: "llama.cpp (or onnxruntime) refused to load the model.", hint: "Check free memory and the model's architecture; the node's log has llama.cpp's message." },
  CONTEXT_LENGTH_EXCEEDED: { status: 400, description: "The prompt does not fit the model's context window.", hint: "Shorten the prompt or conversation, or raise tuning.contextSize." },
  INVALID_SAMPLING: { status: 400, description: "A sampling parameter is out of range (temperature 0–2, top_p 0–1, top_k ≥ 0, min_p 0–1, frequency/presence_penalty −2–2, repeat_penalty 0–10, logit_bias −100–100 by token id, max_tokens ≥ 1, at most 4 stop strings)." },
  INVALID_JSON_SCHEMA: { status: 400, description: "The response_format JSON schema (or a tool's parameters schema, named in `param`) cannot be compiled into a grammar, or uses a keyword the grammar cannot enforce (named in the message: minimum, maximum, pattern, …)." },
  TOOLS_UNSUPPORTED: { status: 400, description: "The model cannot call functions: its GGUF has no chat template, or its template has no tool-call syntax, so `tools` would come back as plain text. The message names the model.", hint: "Use a model whose chat template supports tools (Qwen2.5/3, Llama 3.1+, Mistral, Functionary, …), or send the request without tools (or with tool_choice \"none\")." },
  TOOL_CALL_INVALID: { status: 502, description: "The model wrote a function call whose arguments, though they follow the grammar, fail the schema check (a number too large for JSON's range reads as Infinity). The model's output, not a fault of the node; the message names the model.", hint: "Retry (with another seed), or bound the value in the schema (an enum)." },
  QUEUE_FULL: { status: 429, description: "Every generation slot is busy and the wait queue is full; retry after the time in Retry-After." },
  QUEUE_TIMEOUT: { status: 503, description: "The request waited in the queue longer than inference.queueTimeoutSeconds; retry after the time in Retry-After." },
  PULL_FAILED: { status: 502, description: "Downloading the model failed; no partial file was left under a model name.", hint: "Run the same pull again: it resumes from where it stopped." },
  UPLOAD_INCOMPLETE: { status: 400, description: "The model upload ended early or had no file part; nothing was installed." },
  MODEL_TOO_LARGE: { status: 413, description: "The uploaded model is larger than inference.uploadLimitBytes." },
  ENGINE_CRASHED: { status: 503, description: "The runner process holding the model died (a native abort, a signal, or it stopped answering its heartbeat) while serving this request. The node itself is unharmed and starts a new runner; retry after the time in Retry-After.", hint: "If it happens again with the same model, the model is quarantined: see `sovereign model list`." },
  MODEL_QUARANTINED: { status: 409, description: "The model crashed its runner (when loading, or repeatedly) and is quarantined: it is not loaded until an admin retries it.", hint: "See the reason in `sovereign model list`; retry with `sovereign model retry NAME` (POST /api/models/NAME/retry) or remove it." },
  MODEL_OUT_OF_MEMORY: { status: 503, description: "Loading the model needed more memory than its runner may use (the cap comes from tuning.modelRamBudgetMb); the runner was stopped and the node is unharmed.", hint: "Use a smaller model or quantization, lower tuning.contextSize or tuning.parallelSequences, or raise tuning.modelRamBudgetMb." },
});

declare module "../../core/errors/catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof inferenceErrors> {}
}
