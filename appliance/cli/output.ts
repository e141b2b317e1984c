import { SovereignError } from "../../core/errors/SovereignError.js";

/** Prints a result: JSON for scripts (--json), otherwise the text form. */
export function printResult(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

/**
 * The CLI's one exit path for failures: user mistakes print the message and
 * its hint; anything else is a bug and prints the stack.
 */
export function exitWithError(err: unknown, json = false): never {
  if (err instanceof SovereignError) {
    if (json) process.stdout.write(`${JSON.stringify({ error: { code: err.code, message: err.message, hint: err.hint } })}\n`);
    process.stderr.write(`sovereign: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    process.exit(err.status >= 500 && err.code !== "CONFIG_INVALID" && err.code !== "CONFIG_FILE_UNREADABLE" ? 1 : 2);
  }
  process.stderr.write(`sovereign: unexpected failure (a bug; please report it):\n${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
}
