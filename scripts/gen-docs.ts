// `npm run docs`: regenerates docs/config.md and docs/errors.md from the settings table and the error catalog.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderConfigDocs } from "../appliance/config/renderConfigDocs.js";
import { renderErrorDocs } from "../appliance/errors/renderErrorDocs.js";

const docs = join(import.meta.dirname, "..", "docs");
writeFileSync(join(docs, "config.md"), renderConfigDocs());
writeFileSync(join(docs, "errors.md"), renderErrorDocs());
console.log("wrote docs/config.md and docs/errors.md");
