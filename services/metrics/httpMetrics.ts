import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Request rate, latency and errors by route (the route's pattern, never the raw URL, so labels stay bounded). */
export function registerHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const requests = new Counter({
    name: "sovereign_http_requests_total",
    help: "HTTP requests answered, by method, route pattern and status code.",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const errors = new Counter({
    name: "sovereign_http_errors_total",
    help: "HTTP requests answered with a 4xx or 5xx status, by route pattern and class.",
    labelNames: ["method", "route", "class"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "sovereign_http_request_duration_seconds",
    help: "Time from receiving a request to finishing its response, by route pattern.",
    labelNames: ["method", "route"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers: [registry],
  });
  const inFlight = new Gauge({ name: "sovereign_http_in_flight_requests", help: "HTTP requests being handled now.", registers: [registry] });

  // A request ends in onResponse or, when the client goes away first, in onRequestAbort: count it down once.
  const open = new WeakSet<object>();
  const done = (request: object): void => {
    if (open.delete(request)) inFlight.dec();
  };
  app.addHook("onRequest", async (request) => {
    open.add(request);
    inFlight.inc();
  });
  app.addHook("onRequestAbort", async (request) => done(request));
  app.addHook("onResponse", async (request, reply) => {
    done(request);
    const route = request.routeOptions.url ?? "unmatched";
    // Unknown methods would make unbounded labels.
    const method = KNOWN_METHODS.has(request.method) ? request.method : "OTHER";
    const status = reply.statusCode;
    requests.inc({ method, route, status: String(status) });
    duration.observe({ method, route }, reply.elapsedTime / 1000);
    if (status >= 400) errors.inc({ method, route, class: status >= 500 ? "5xx" : "4xx" });
  });
}

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
