/** How a runner ended, as the node saw it. */
export interface RunnerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The node killed it because it stopped answering its heartbeat. */
  heartbeatLost: boolean;
  /** The node stopped it on purpose (unload, shutdown): not a crash. */
  expected: boolean;
  /** The last lines it wrote to stderr. */
  stderrTail: string;
}

/** Signals a native fault raises: the same file would do it again. */
export const NATIVE_FAULTS = new Set(["SIGABRT", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP"]);

/**
 * The line that says why a runner died, from what it wrote to stderr:
 * llama.cpp's GGML_ASSERT/GGML_ABORT text (with the build path cut down to
 * the file name), a C++ exception that escaped, or V8's fatal error.
 */
export function crashText(stderr: string): string | null {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  const pick = (re: RegExp) => [...lines].reverse().find((l) => re.test(l));
  const line = pick(/GGML_ASSERT\(.*\) failed|GGML_ABORT|fatal error/) ?? pick(/terminate called|std::bad_alloc|what\(\):/) ?? pick(/FATAL ERROR|out of memory/i);
  if (!line) return null;
  // ".../llama.cpp/src/llama-model.cpp:1260: GGML_ASSERT(x) failed" → "llama-model.cpp:1260: GGML_ASSERT(x) failed"
  return line.replace(/^\S*\/([^/\s]+:\d+:)/, "$1").slice(0, 400);
}

/** One sentence for logs, errors and the quarantine record. */
export function describeExit(exit: RunnerExit): string {
  const how = exit.heartbeatLost
    ? "stopped answering its heartbeat and was killed"
    : exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code ?? "?"}`;
  const text = crashText(exit.stderrTail);
  return text ? `${text} (the runner ${how})` : `the runner ${how}`;
}
