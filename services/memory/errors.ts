import { defineErrors, type CodesOf } from "../../core/errors/catalog.js";

/** Memory and conversations. */
export const memoryErrors = defineErrors("memory", {
  MEMORY_NOT_FOUND: { status: 404, description: "No memory with this id exists for this user." },
  CONVERSATION_NOT_FOUND: { status: 404, description: "No conversation with this id exists for this user." },
  MEMORY_QUERY_EMPTY: { status: 400, description: "The search query is empty.", hint: "Send a query with at least one word in `q`." },
  MEMORY_TEXT_INVALID: {
    status: 400,
    description: "The text is not valid UTF-8 (or contains unpaired surrogates) or is empty.",
    hint: "Convert the document to UTF-8 text first (for example with `iconv -t UTF-8`).",
  },
  MEMORY_DOCUMENT_TOO_LARGE: { status: 413, description: "The document is larger than memory.maxDocumentBytes.", hint: "Split the document, or raise memory.maxDocumentBytes." },
  MEMORY_IMPORT_INVALID: { status: 400, description: "A line of the JSON-lines import is not a valid record; nothing from the file was imported.", hint: "Import a file written by `sovereign memory export`." },
});

declare module "../../core/errors/catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof memoryErrors> {}
}
