import { SovereignError } from "../../core/errors/SovereignError.js";

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Decodes bytes as strict UTF-8; invalid sequences are refused, never replaced silently. */
export function decodeUtf8(bytes: Uint8Array, what = "document"): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new SovereignError("MEMORY_TEXT_INVALID", `The ${what} is not valid UTF-8.`);
  }
}

/**
 * Checks text that arrived as a JS string (JSON bodies): refuses unpaired
 * surrogates (which SQLite would store as garbage), NUL bytes, blank text and
 * text longer than the limit. `keepNul` is for conversation messages, which hold
 * a model's text as it came: the chat service stores the NUL a model's byte
 * token made, and Continue or an import must take that text back.
 */
export function checkText(text: string, maxBytes: number, what = "text", { keepNul = false }: { keepNul?: boolean } = {}): string {
  if (typeof text !== "string" || text.trim().length === 0) throw new SovereignError("MEMORY_TEXT_INVALID", `The ${what} is empty.`);
  if (!isWellFormed(text)) throw new SovereignError("MEMORY_TEXT_INVALID", `The ${what} contains unpaired UTF-16 surrogates (not valid Unicode).`);
  if (!keepNul && text.includes("\u0000")) throw new SovereignError("MEMORY_TEXT_INVALID", `The ${what} contains NUL characters; it looks like binary data.`);
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes) {
    throw new SovereignError("MEMORY_DOCUMENT_TOO_LARGE", `The ${what} is ${bytes} bytes; the limit is ${maxBytes} (memory.maxDocumentBytes).`, {
      details: { bytes, maxBytes },
    });
  }
  return text;
}

// String.prototype.isWellFormed (V8 11.3+) is not in TypeScript's ES2023 lib.
const nativeIsWellFormed = Reflect.get(String.prototype, "isWellFormed") as ((this: string) => boolean) | undefined;

function isWellFormed(s: string): boolean {
  if (typeof nativeIsWellFormed === "function") return nativeIsWellFormed.call(s);
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** A rough token count (about 4 characters per token for English), used for budgets when no tokenizer is at hand. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
