import { SovereignError } from "../errors/SovereignError.js";
import { describeGguf } from "../gguf/describeGguf.js";
import type { GgufInfo } from "../gguf/readGguf.js";

// The model manifest's entry (<models dir>/manifest.json), in core because two writers make it: the
// inference service's registry and the image builder's models step, and the node reads both the same way.

/** Why a model is kept from loading: it crashed its runner (at load, or over and over). */
export interface Quarantine {
  /** What the runner said last (the assert text) or how it died. */
  reason: string;
  /** The signal that ended the runner (SIGABRT, SIGSEGV, SIGKILL...), when one did. */
  signal: string | null;
  /** Crashes counted before it was quarantined. */
  crashes: number;
  at: string;
}

/** One installed model, as the manifest records it. */
export interface ModelEntry {
  name: string;
  kind: "llm" | "embedding";
  format: "gguf" | "onnx";
  /** Relative to the models dir: a .gguf file, or a folder holding model.onnx and tokenizer.json. */
  file: string;
  /** Of the .gguf file, or of model.onnx. */
  sha256: string;
  size: number;
  architecture: string;
  parameters: number | null;
  quantization: string | null;
  contextLength: number | null;
  license: string | null;
  addedAt: string;
  source?: string;
  /** Present while the model is quarantined: never loaded at startup or as the default until an admin retries it. */
  quarantine?: Quarantine;
}


const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function checkModelName(name: string): string {
  if (!NAME.test(name))
    throw new SovereignError("BAD_REQUEST", `"${name}" is not a valid model name.`, { hint: "Use letters, digits, '.', '_', ':' and '-' (at most 128), starting with a letter or digit." });
  return name;
}

/** The entry of a validated GGUF file (`file` relative to the models dir), its facts read from the header. */
export function ggufModelEntry(info: GgufInfo, o: { name: string; file: string; sha256: string; kind?: "llm" | "embedding"; source?: string }): ModelEntry {
  const summary = describeGguf(info);
  return {
    name: o.name, kind: o.kind ?? summary.kind, format: "gguf", file: o.file, sha256: o.sha256, size: info.fileSize,
    architecture: summary.architecture, parameters: summary.parameters, quantization: summary.quantization,
    contextLength: summary.contextLength, license: summary.license, addedAt: new Date().toISOString(),
    ...(o.source ? { source: o.source } : {}),
  };
}
