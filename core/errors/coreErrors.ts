import { defineErrors, type CodesOf } from "./catalog.js";

/** Errors of the HTTP layer, config and outbound calls, shared by every service. */
export const coreErrors = defineErrors("core", {
  BAD_REQUEST: { status: 400, description: "The request is malformed: its body, query or parameters do not match the route's schema." },
  INVALID_JSON: { status: 400, description: "The request body is not valid JSON.", hint: "Send a JSON document with Content-Type: application/json." },
  JSON_TOO_DEEP: { status: 400, description: "The JSON nests objects and arrays deeper than the node accepts (64 levels), in a request body, an imported line or a peer's message.", hint: "Flatten the document; real requests stay far below the limit." },
  BODY_TOO_LARGE: { status: 413, description: "The request body is larger than this route accepts." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: "The request's Content-Type is not accepted by this route." },
  HOST_NOT_ALLOWED: { status: 400, description: "The Host header names a host this node does not serve (DNS-rebinding protection).", hint: "Use the node's own name or address, or add the name to server.allowedHosts." },
  NOT_FOUND: { status: 404, description: "No route or resource matches the request." },
  METHOD_NOT_ALLOWED: { status: 405, description: "The route exists but not for this HTTP method." },
  UNAUTHENTICATED: { status: 401, description: "The request carries no valid session or API key." },
  FORBIDDEN: { status: 403, description: "The caller is authenticated but not allowed to do this." },
  RATE_LIMITED: { status: 429, description: "Too many requests; wait for the time in Retry-After." },
  SERVICE_UNAVAILABLE: { status: 503, description: "A service this request needs is not ready or is overloaded; retry after the time in Retry-After." },
  CONFIG_INVALID: { status: 500, description: "A setting has a value outside what it accepts; the node refuses to start with it.", hint: "Fix the named setting in the config file, environment or flags." },
  CONFIG_FILE_UNREADABLE: { status: 500, description: "The config file exists but cannot be read or is not valid JSON." },
  SHUTTING_DOWN: { status: 503, description: "The node is shutting down and takes no new work." },
  INTERNAL: { status: 500, description: "An unexpected failure inside the node. It is logged with the request id." },

  CIRCUIT_OPEN: { status: 503, description: "Calls to that remote (a peer or a model mirror) are paused after repeated failures.", hint: "Wait for the time in Retry-After, and check that the remote is reachable." },
});

declare module "./catalog.js" {
  interface ErrorCodeMap extends CodesOf<typeof coreErrors> {}
}
