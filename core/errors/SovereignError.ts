import { errorEntry, type ErrorCode } from "./catalog.js";
import "./coreErrors.js";

/** Used only when a code's domain was never loaded: a bug, reported as one. */
const UNREGISTERED = { status: 500, description: "Unregistered error code." };

/**
 * The one error type that crosses module boundaries. Its `code` names an entry
 * of the catalog, which fixes the HTTP status and the documented meaning.
 * Status and hint are read from the catalog when asked for, so an error made
 * before its domain's table was loaded still answers with the right status.
 */
export class SovereignError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly #hint: string | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message ?? (errorEntry(code) ?? UNREGISTERED).description, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SovereignError";
    this.code = code;
    this.#hint = options.hint;
    this.details = options.details;
  }

  get status(): number {
    return (errorEntry(this.code) ?? UNREGISTERED).status;
  }

  get hint(): string | undefined {
    return this.#hint ?? errorEntry(this.code)?.hint;
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
