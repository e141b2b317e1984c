import { registeredErrors, type ErrorEntry } from "../../core/errors/catalog.js";
import "../../core/errors/coreErrors.js";
import "../../services/db/errors.js";
import "../../services/federation/errors.js";
import "../../image/errors.js";
import "../../services/memory/errors.js";
import "../../services/scheduler/errors.js";
import "../../services/inference/errors.js";
import "../../services/auth/errors.js";
import "../../services/audit/errors.js";
import "../../services/update/errors.js";
import "../../services/ollama/errors.js";
import "../../services/chat/errors.js";
import "../config/errors.js";

/**
 * Every coded error the node can return: the composition root loads each
 * domain's table (they live next to their code) and this is the catalog they
 * form. docs/errors.md is generated from it (`npm run docs`).
 */
export const errorCatalog: Readonly<Record<string, ErrorEntry & { domain: string }>> = Object.fromEntries(registeredErrors());
