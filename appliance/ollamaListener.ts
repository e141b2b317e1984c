import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";

export interface OllamaListener {
  url: string;
  close(): Promise<void>;
}

/**
 * Ollama's clients call /api/chat, /api/tags … at the root of a server, where
 * our /api belongs to the panel. So the Ollama routes live under /ollama in
 * the one app, and this second listener (port 11434 on images) hands every
 * request to that app's router with the prefix added: the same hooks (Host
 * check, auth, limits) and the same services answer it.
 */
export async function listenOllama(app: FastifyInstance, host: string, port: number): Promise<OllamaListener> {
  const server: Server = createServer((req, res) => {
    req.url = `/ollama${req.url === "/" ? "/" : req.url ?? "/"}`;
    app.routing(req, res);
  });
  server.headersTimeout = app.server.headersTimeout;
  server.requestTimeout = app.server.requestTimeout;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const shown = a.family === "IPv6" ? `[${a.address}]` : a.address;
  return {
    url: `http://${shown}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
