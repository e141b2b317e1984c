import { coreErrors } from "./codes/core.js";
import { dbErrors } from "./codes/db.js";
import { federationErrors } from "./codes/federation.js";
import { imageErrors } from "./codes/image.js";
import { memoryErrors } from "./codes/memory.js";
import { inferenceErrors } from "./codes/inference.js";
import { authErrors } from "./codes/auth.js";
import { auditErrors } from "./codes/audit.js";
import { netErrors } from "./codes/net.js";

/**
 * Every coded error the node can return. Each domain keeps its entries in
 * ./codes/<domain>.ts; this object is the single catalog they form, and
 * docs/errors.md is generated from it (`npm run docs`).
 */
export const errorCatalog = {
  ...coreErrors,
  ...dbErrors,
  ...federationErrors,
  ...imageErrors,
  ...memoryErrors,
  ...inferenceErrors,
  ...authErrors,
  ...auditErrors,
  ...netErrors,
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof errorCatalog;

export interface ErrorEntry {
  /** HTTP status when the error ends a request. */
  status: number;
  /** What the error means, for docs/errors.md and as the default message. */
  description: string;
  /** What the user can do about it, when there is something to do. */
  hint?: string;
}
