import type { ErrorEntry } from "../../core/errors/catalog.js";
import { errorCatalog } from "./catalog.js";

/** docs/errors.md, generated from the catalog (`npm run docs`); a test keeps the file current. */
export function renderErrorDocs(): string {
  const lines = [
    "# Error codes",
    "",
    "<!-- Generated from each domain's errors.ts by `npm run docs`. Do not edit by hand. -->",
    "",
    "Every HTTP error outside the OpenAI-compatible routes has this JSON body:",
    "",
    "```json",
    '{ "error": { "code": "MODEL_NOT_FOUND", "message": "what went wrong", "hint": "what to do (optional)", "details": {} }, "requestId": "req-1" }',
    "```",
    "",
    "The `/v1/*` routes answer in OpenAI's shape instead: `{ \"error\": { \"message\", \"type\", \"param\", \"code\" } }`, with the same `code`.",
    "Responses with status 429 or 503 carry `Retry-After`.",
    "",
    "| code | status | meaning | hint |",
    "|---|---|---|---|",
  ];
  for (const [code, entry] of Object.entries(errorCatalog) as Array<[string, ErrorEntry]>) {
    lines.push(`| \`${code}\` | ${entry.status} | ${entry.description.replace(/\|/g, "\\|")} | ${(entry.hint ?? "").replace(/\|/g, "\\|")} |`);
  }
  return `${lines.join("\n")}\n`;
}
