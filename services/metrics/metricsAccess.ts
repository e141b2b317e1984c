import type { FastifyRequest } from "fastify";
import { isIP } from "node:net";
import { SovereignError } from "../../core/errors/SovereignError.js";

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith("::ffff:") ? address.slice(7) : address;
  if (a === "::1") return true;
  return isIP(a) === 4 && a.startsWith("127.");
}

/**
 * /metrics answers the node itself (a local Prometheus or node agent) and any
 * caller whose key carries the "metrics" scope. The route is marked public so
 * the auth hook lets a keyless loopback scraper through; it still attaches the
 * principal first, which this check reads.
 */
export async function metricsAccess(request: FastifyRequest): Promise<void> {
  if (isLoopback(request.socket.remoteAddress)) return;
  const principal = (request as unknown as { principal?: { scopes?: readonly string[] } | null }).principal;
  if (!principal) throw new SovereignError("UNAUTHENTICATED", "Scrape /metrics from the node itself, or with an API key that has the metrics scope.");
  if (!principal.scopes?.includes("metrics")) throw new SovereignError("FORBIDDEN", "This API key lacks the metrics scope.");
}
