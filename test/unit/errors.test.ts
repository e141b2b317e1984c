import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { errorCatalog } from "../../appliance/errors/catalog.js";
import { renderErrorDocs } from "../../appliance/errors/renderErrorDocs.js";
import { errorBody, SovereignError } from "../../core/errors/SovereignError.js";

describe("error catalog", () => {
  it("documents every code in docs/errors.md, generated from the catalog", () => {
    const docs = readFileSync(join(import.meta.dirname, "..", "..", "docs", "errors.md"), "utf8");
    expect(docs, "run `npm run docs`").toBe(renderErrorDocs());
    expect(Object.keys(errorCatalog).length).toBeGreaterThan(20);
    for (const [code, entry] of Object.entries(errorCatalog)) {
      expect(docs).toContain(`| \`${code}\` | ${entry.status} |`);
      expect(entry.description.length, code).toBeGreaterThan(15);
    }
  });

  it("uses upper snake case codes and HTTP statuses", () => {
    for (const [code, entry] of Object.entries(errorCatalog)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(entry.status).toBeGreaterThanOrEqual(400);
      expect(entry.status).toBeLessThan(600);
    }
  });

  it("builds the documented body from an error", () => {
    const err = new SovereignError("HOST_NOT_ALLOWED", "Host evil.example is not served here.", { details: { host: "evil.example" } });
    expect(err.status).toBe(400);
    expect(errorBody(err, "req-7")).toEqual({
      error: {
        code: "HOST_NOT_ALLOWED",
        message: "Host evil.example is not served here.",
        hint: errorCatalog.HOST_NOT_ALLOWED?.hint,
        details: { host: "evil.example" },
      },
      requestId: "req-7",
    });
  });
});
