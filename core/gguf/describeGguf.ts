import type { GgufInfo, GgufValue } from "./readGguf.js";
import { ggmlTypes, ggufFileTypes } from "./ggmlTypes.js";

export interface GgufSummary {
  architecture: string;
  /** general.name, when the file has one. */
  title: string | null;
  parameters: number;
  quantization: string;
  contextLength: number | null;
  license: string | null;
  /** "embedding" for encoder architectures or files that declare a pooling type. */
  kind: "llm" | "embedding";
}

const EMBEDDING_ARCHS = new Set(["bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "jina-bert-v3", "modern-bert", "neo-bert", "t5encoder"]);

function str(v: GgufValue | undefined): string | null {
  return typeof v === "string" ? v : null;
}
function num(v: GgufValue | undefined): number | null {
  return typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : null;
}

/** The manifest facts of a validated GGUF file, read from its header only. */
export function describeGguf(info: GgufInfo): GgufSummary {
  const m = info.metadata;
  const architecture = str(m.get("general.architecture")) ?? "unknown";
  const parameters = info.tensors.reduce((n, t) => n + t.elements, 0);
  const fileType = num(m.get("general.file_type"));
  let quantization = fileType !== null ? ggufFileTypes[fileType] ?? `type ${fileType}` : null;
  if (quantization === null) {
    // The type holding the most elements names the quantization.
    const byType = new Map<number, number>();
    for (const t of info.tensors) byType.set(t.type, (byType.get(t.type) ?? 0) + t.elements);
    const top = [...byType.entries()].sort((a, b) => b[1] - a[1])[0];
    quantization = top ? ggmlTypes[top[0]]?.name ?? "unknown" : "none";
  }
  const kind = EMBEDDING_ARCHS.has(architecture) || m.has(`${architecture}.pooling_type`) ? "embedding" : "llm";
  return {
    architecture,
    title: str(m.get("general.name")),
    parameters,
    quantization,
    contextLength: num(m.get(`${architecture}.context_length`)),
    license: str(m.get("general.license")),
    kind,
  };
}
