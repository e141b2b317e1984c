import fp from "fastify-plugin";
import helmet from "@fastify/helmet";
import underPressure from "@fastify/under-pressure";
import type { FastifyRequest } from "fastify";
import { isIP } from "node:net";
import { getHeapStatistics } from "node:v8";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { KeyRateLimiter } from "./KeyRateLimiter.js";

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, "");
  return a === "::1" || (isIP(a) === 4 && a.startsWith("127."));
}

/** Who a rate limit counts: the API key, else the logged-in user (the auth service's principal), else the address. */
export function rateKey(request: FastifyRequest): string {
  const p = request.principal;
  if (p?.keyId) return `key:${p.keyId}`;
  if (p?.userId) return `user:${p.userId}`;
  return `ip:${request.ip}`;
}

/**
 * Limits on every route: security headers, per-IP and per-key rate limits,
 * 503 + Retry-After while the event loop or heap is overloaded, and the
 * server's header and request timeouts. Registered before auth, so overload
 * and address limits act before any credential is checked.
 */
export const limitsPlugin = fp(
  async (app) => {
    const cfg = app.config;
    app.server.headersTimeout = cfg["limits.headersTimeoutMs"];
    app.server.requestTimeout = cfg["limits.requestTimeoutMs"];

    await app.register(helmet, {
      // The web panel sets its own stricter CSP on HTML; this covers every other response.
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"] } },
      // Plain HTTP on a LAN: HSTS would only matter behind TLS, which a proxy in front would set.
      hsts: false,
      crossOriginEmbedderPolicy: false,
      crossOriginResourcePolicy: { policy: "same-origin" },
    });

    const retryAfter = cfg["limits.retryAfterSeconds"];
    const heapLimitMb = cfg["limits.maxHeapUsedMb"] ?? Math.floor((getHeapStatistics().heap_size_limit / 1048576) * 0.9);
    await app.register(underPressure, {
      maxEventLoopDelay: cfg["limits.maxEventLoopDelayMs"],
      maxHeapUsedBytes: heapLimitMb * 1048576,
      retryAfter,
      exposeStatusRoute: false,
      // /healthz stays cheap and always answers; everything else is shed with a catalog error.
      pressureHandler: (request: FastifyRequest, _reply: unknown, type: string, value: number | undefined) => {
        if (request.url === "/healthz") return undefined;
        // under-pressure reports Infinity when its window held no sample at all (the process was starved of CPU
        // for a whole window, e.g. a busy 2-core box). That is no measurement of our loop: only a real delay sheds.
        if (type === "eventLoopDelay" && (value === undefined || !Number.isFinite(value))) return undefined;
        return Promise.reject(
          new SovereignError("SERVICE_UNAVAILABLE", `The node is overloaded (${type}${value === undefined ? "" : ` ${Math.round(value)}`}); retry shortly.`, {
            details: { reason: type, retryAfterSeconds: retryAfter },
          }),
        );
      },
    });

    // One fixed-window limiter serves both counts. Per address, for everything, in a global onRequest
    // hook registered before auth's, so a flood (bad credentials included) is cut before any credential is checked.
    const perIp = cfg["limits.ratePerIpPerMinute"];
    const exempt = (request: FastifyRequest) => request.url === "/healthz" || (cfg["limits.exemptLoopback"] && isLoopback(request.ip));
    const ipLimiter = new KeyRateLimiter(perIp);
    app.addHook("onRequest", async (request) => {
      if (exempt(request)) return;
      const wait = ipLimiter.hit(request.ip);
      if (wait > 0) {
        throw new SovereignError("RATE_LIMITED", `More than ${perIp} requests a minute from this address; retry in ${wait} s.`, {
          details: { limit: perIp, per: "ip", retryAfterSeconds: wait },
        });
      }
    });

    // Per key or user: a route-level onRequest hook runs after the global ones, so auth has
    // attached the principal it counts by, and still before the body is read.
    const perKey = cfg["limits.ratePerKeyPerMinute"];
    const keyLimiter = new KeyRateLimiter(perKey);
    const keyHook = async (request: FastifyRequest): Promise<void> => {
      const key = rateKey(request);
      if (key.startsWith("ip:") || exempt(request)) return;
      const wait = keyLimiter.hit(key);
      if (wait > 0) {
        throw new SovereignError("RATE_LIMITED", `More than ${perKey} requests a minute with this key; retry in ${wait} s.`, {
          details: { limit: perKey, per: "key", retryAfterSeconds: wait },
        });
      }
    };
    app.addHook("onRoute", (route) => {
      const own = route.onRequest;
      route.onRequest = own === undefined ? [keyHook] : [...(Array.isArray(own) ? own : [own]), keyHook];
    });
  },
  { name: "sovereign-limits", dependencies: ["sovereign-context", "sovereign-errors"] },
);
