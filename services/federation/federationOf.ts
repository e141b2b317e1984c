import type { FastifyInstance } from "fastify";
import type { FederationApi } from "./federationPlugin.js";

/**
 * Federation is optional to the services that can use it (metrics; chat's
 * offload): this is their one way to it, typed. Null when the federation
 * service is not loaded or is off (federation.enabled false, or no broker).
 */
export function federationOf(app: FastifyInstance): FederationApi | null {
  if (!app.hasDecorator("federation")) return null;
  return app.federation.enabled ? app.federation : null;
}
