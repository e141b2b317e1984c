import { setting } from "../../core/config/setting.js";
import type { SettingValues } from "../../core/config/Config.js";

/** Settings of the request limits (rate limits, overload shedding, timeouts). */
export const limitsSettings = [
  setting.integer({
    key: "limits.ratePerIpPerMinute", env: "SOVEREIGN_RATE_PER_IP", flag: "--rate-per-ip", default: 600, min: 1,
    help: "Requests per minute one IP address may make without an API key or session (429 with Retry-After beyond).",
  }),
  setting.integer({
    key: "limits.ratePerKeyPerMinute", env: "SOVEREIGN_RATE_PER_KEY", flag: "--rate-per-key", default: 1200, min: 1,
    help: "Requests per minute one API key (or logged-in user) may make.",
  }),
  setting.boolean({
    key: "limits.exemptLoopback", env: "SOVEREIGN_RATE_EXEMPT_LOOPBACK", flag: "--rate-exempt-loopback", default: true,
    help: "Whether requests from the node itself (127.0.0.1, ::1) skip the rate limits. Turn it off behind a reverse proxy on the same host.",
  }),
  setting.integer({
    key: "limits.maxEventLoopDelayMs", env: "SOVEREIGN_SHED_EVENT_LOOP_DELAY_MS", flag: "--shed-event-loop-delay-ms", default: 1000, min: 10,
    help: "Mean event-loop delay above which new requests get 503 with Retry-After (keep it below watchdog.maxEventLoopDelayMs).",
  }),
  setting.autoInteger({
    key: "limits.maxHeapUsedMb", env: "SOVEREIGN_SHED_HEAP_MB", flag: "--shed-heap-mb", min: 16,
    help: "Heap use above which new requests get 503. \"auto\" is 90% of the V8 heap limit.",
  }),
  setting.integer({
    key: "limits.retryAfterSeconds", env: "SOVEREIGN_RETRY_AFTER_SECONDS", flag: "--retry-after-seconds", default: 10, min: 1, max: 3600,
    help: "Retry-After sent with an overload 503.",
  }),
  setting.integer({
    key: "limits.headersTimeoutMs", env: "SOVEREIGN_HEADERS_TIMEOUT_MS", flag: "--headers-timeout-ms", default: 15_000, min: 100, max: 600_000,
    help: "A connection that has not sent complete request headers by then is closed (slow-header protection).",
  }),
  setting.integer({
    key: "limits.requestTimeoutMs", env: "SOVEREIGN_REQUEST_TIMEOUT_MS", flag: "--request-timeout-ms", default: 120_000, min: 1000, max: 3_600_000,
    help: "A request whose body has not fully arrived by then is answered 408 and closed (streamed responses are not cut).",
  }),
] as const;

declare module "../../core/config/Config.js" {
  interface Config extends SettingValues<typeof limitsSettings> {}
}
