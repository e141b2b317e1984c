import { defineErrors, type CodesOf } from "../../core/errors/catalog.js";

/** Errors of services/inference: models, the engine, the queue and the OpenAI API. */
export const inferenceErrors = defineErrors("inference", {
  MODEL_NOT_FOUND: { status: 404, description: "No installed model has this name.", hint: "List models with `sovereign model list` or GET /v1/models." },
  MODEL_INVALID: { status: 422, description: "The model file is not a well-formed GGUF (or ONNX) file: its header, counts or tensor ranges are wrong. It never reaches llama.cpp.", hint: "Download the file again; check its sha256 against the publisher's." },
  MODEL_CHECKSUM_MISMATCH: { status: 422, description: "The model file's sha256 differs from the expected one; nothing was installed.", hint: "Check the sha256 you gave, or download the file again." },
  MODEL_EXISTS: { status: 409, description: "A model with this name is already installed.", hint: "Pick another --name, or remove the installed one first." },
  MODEL_FILE_MISSING: { status: 404, description: "The model's file is missing from the models directory." , hint: "Run `sovereign model verify` and add the model again." },
  MODEL_WRONG_KIND: { status: 400, description: "The named model cannot serve this request (a chat model for embeddings, or the reverse)." },
  NO_MODEL: { status: 404, description: "No model of the needed kind is installed, so there is nothing to answer with.", hint: "Install one with `sovereign model add FILE` or `sovereign model pull URL --sha256 HEX`." },
  ENGINE_UNAVAILABLE: { status: 503, description: "The inference engine could not start on this machine (no prebuilt llama.cpp binary fits it, or loading failed)." },
  MODEL_LOAD_FAILED: { status: 503, description: "llama.cpp (or onnxruntime) refused to load the model.", hint: "Check free memory and the model's architecture; the node's log has llama.cpp's message." },
  CONTEXT_LENGTH_EXCEEDED: { status: 400, description: "The prompt does not fit the model's context window.", hint: "Shorten the prompt or conversation, or raise tuning.contextSize." },
  INVALID_SAMPLING: { status: 400, description: "A sampling parameter is out of range (temperature 0–2, top_p 0–1, max_tokens ≥ 1, at most 4 stop strings)." },
  INVALID_JSON_SCHEMA: { status: 400, description: "The response_format JSON schema cannot be compiled into a grammar." },
  QUEUE_FULL: { status: 429, description: "Every generation slot is busy and the wait queue is full; retry after the time in Retry-After." },
  QUEUE_TIMEOUT: { status: 503, description: "The request waited in the queue longer than inference.queueTimeoutSeconds; retry after the time in Retry-After." },
  PULL_FAILED: { status: 502, description: "Downloading the model failed; no partial file was left under a model name.", hint: "Run the same pull again: it resumes from where it stopped." },
  UPLOAD_INCOMPLETE: { status: 400, description: "The model upload ended early or had no file part; nothing was installed." },
  MODEL_TOO_LARGE: { status: 413, description: "The uploaded model is larger than inference.uploadLimitBytes." },
});

declare module "../../core/errors/catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof inferenceErrors> {}
}
