import fp from "fastify-plugin";
import type { FastifyReply, FastifyRequest } from "fastify";
import { loadAssets, type Asset } from "./assets.js";

/** Strict by design: the app uses no inline script or style, no other origin, and is never framed. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * Serves the web panel: the shell at / and its files under /assets/. These
 * (and only these) are public: the shell is also the login and setup page,
 * and everything it shows comes from authenticated API routes.
 */
export const webUiPlugin = fp(
  async (app) => {
    const assets = loadAssets();
    const index = assets.get("index.html");
    if (!index) throw new Error("web-ui: index.html missing");

    const send = (request: FastifyRequest, reply: FastifyReply, asset: Asset) => {
      void reply
        .header("content-type", asset.type)
        .header("etag", asset.etag)
        // Revalidate every time: a few 304s are cheap, and an update is never hidden behind a stale cache.
        .header("cache-control", "no-cache")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("vary", "accept-encoding");
      if (asset.type.startsWith("text/html")) void reply.header("content-security-policy", CSP).header("x-frame-options", "DENY");
      if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
      const gz = /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
      if (gz) void reply.header("content-encoding", "gzip");
      return reply.send(gz ? asset.gzip : asset.body);
    };

    app.get("/", { config: { access: "public" } }, (request, reply) => send(request, reply, index));
    app.get<{ Params: { "*": string } }>("/assets/*", { config: { access: "public" } }, (request, reply) => {
      const asset = assets.get(request.params["*"]);
      if (!asset || asset.path === "index.html") return reply.callNotFound();
      return send(request, reply, asset);
    });
  },
  { name: "sovereign-web-ui", dependencies: ["sovereign-context"] },
);
