import { errorCatalog, type ErrorCode, type ErrorEntry } from "./catalog.js";

/**
 * The one error type that crosses module boundaries. Its `code` names an entry
 * of the catalog, which fixes the HTTP status and the documented meaning.
 */
export class SovereignError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    const entry: ErrorEntry = errorCatalog[code];
    super(message ?? entry.description, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SovereignError";
    this.code = code;
    this.status = entry.status;
    this.hint = options.hint ?? entry.hint;
    this.details = options.details;
  }
}

/** The documented JSON body of every non-OpenAI HTTP error. */
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    hint?: string;
    details?: Record<string, unknown>;
  };
  requestId?: string;
}

export function errorBody(err: SovereignError, requestId?: string): ErrorBody {
  const body: ErrorBody = { error: { code: err.code, message: err.message } };
  if (err.hint !== undefined) body.error.hint = err.hint;
  if (err.details !== undefined) body.error.details = err.details;
  if (requestId !== undefined) body.requestId = requestId;
  return body;
}

export function isSovereignError(value: unknown): value is SovereignError {
  return value instanceof SovereignError;
}
