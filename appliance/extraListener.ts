import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";

export interface ExtraListener {
  url: string;
  close(): Promise<void>;
}

export interface ExtraListenerOptions {
  host: string;
  port: number;
  /** Serve HTTPS with this key and certificate chain (PEM). */
  tls?: { key: string; cert: string };
  /** Rewrites the request path before routing, e.g. to mount Ollama's root API under /ollama. */
  prefix?: string;
}

/**
 * One more listener for the same app: every request goes to the app's router,
 * so the same hooks (Host check, auth, limits) and services answer it. Used
 * for HTTPS beside the plain port, and for Ollama's API at the root of 11434
 * (Ollama's clients call /api/chat … where our /api belongs to the panel).
 */
export async function listenExtra(app: FastifyInstance, opts: ExtraListenerOptions): Promise<ExtraListener> {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (opts.prefix) req.url = `${opts.prefix}${req.url ?? "/"}`;
    app.routing(req, res);
  };
  const server: Server = opts.tls ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : createHttpServer(handler);
  server.headersTimeout = app.server.headersTimeout;
  server.requestTimeout = app.server.requestTimeout;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const shown = a.family === "IPv6" ? `[${a.address}]` : a.address;
  return {
    url: `${opts.tls ? "https" : "http"}://${shown}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
