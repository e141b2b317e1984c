import fp from "fastify-plugin";
import type { ServerResponse } from "node:http";

/** The live channel: what is published here goes to every open /api/events stream (services/status serves them). */
export interface LiveEvents {
  publish(event: string, data: unknown): void;
  /** Sends one event to one stream. */
  send(res: ServerResponse, event: string, data: unknown): void;
  /** Adds an open stream; the returned function removes it. */
  attach(res: ServerResponse): () => void;
}

declare module "fastify" {
  interface FastifyInstance {
    liveEvents: LiveEvents;
  }
}

/**
 * `app.liveEvents`, on its own so that the services which publish (inference's
 * model pulls) load before the status plugin, which reads them.
 */
export const liveEventsPlugin = fp(
  async (app) => {
    const streams = new Set<ServerResponse>();
    const send = (res: ServerResponse, event: string, data: unknown) => {
      if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    app.decorate("liveEvents", {
      publish(event: string, data: unknown) {
        for (const res of streams) send(res, event, data);
      },
      send,
      attach(res: ServerResponse) {
        streams.add(res);
        return () => streams.delete(res);
      },
    } satisfies LiveEvents);
    // Open streams would otherwise hold the server open through a graceful shutdown.
    app.addHook("preClose", async () => {
      for (const res of streams) res.end();
      streams.clear();
    });
  },
  { name: "sovereign-live-events" },
);
