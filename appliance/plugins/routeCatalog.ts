import fp from "fastify-plugin";
import type { FastifySchema, HTTPMethods } from "fastify";

/** One registered route, as fuzzing, docs and the limit tests see it. */
export interface RouteInfo {
  method: string;
  url: string;
  schema: FastifySchema | undefined;
  access: string | undefined;
  scope: string | undefined;
  /** What an API key needs beyond `scope` ("never": sessions only), when the route says. */
  keyScope: string | undefined;
}

declare module "fastify" {
  interface FastifyInstance {
    /** Every route registered after the infrastructure stage began, with its schema and access rule. */
    routeCatalog: readonly RouteInfo[];
  }
}

/** Infrastructure: records every route (through an onRoute hook registered before any route exists). */
export const routeCatalogPlugin = fp(
  async (app) => {
    const routes: RouteInfo[] = [];
    app.decorate("routeCatalog", routes);
    app.addHook("onRoute", (route) => {
      const methods = (Array.isArray(route.method) ? route.method : [route.method]) as HTTPMethods[];
      const config = (route.config ?? {}) as { access?: string; scope?: string; keyScope?: string };
      for (const method of methods) {
        // HEAD twins of GET routes are fastify's own; they share the GET handler.
        if (method === "HEAD" && route.exposeHeadRoute === undefined && methods.length === 1 && routes.some((r) => r.method === "GET" && r.url === route.url)) continue;
        routes.push({ method, url: route.url, schema: route.schema, access: config.access, scope: config.scope, keyScope: config.keyScope });
      }
    });
  },
  { name: "sovereign-route-catalog" },
);
