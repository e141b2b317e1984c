import fp from "fastify-plugin";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { prepareErrorReply } from "../../core/http/errorReply.js";
import { errorBody, SovereignError } from "../../core/errors/SovereignError.js";

/**
 * Maps every error to the one documented JSON shape. Routes that speak
 * another protocol (the OpenAI API) set their own error handler in their scope.
 */
export const errorHandlerPlugin = fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError | SovereignError, request: FastifyRequest, reply: FastifyReply) => {
      const e = prepareErrorReply(err, request, reply);
      return reply.send(errorBody(e, request.id));
    });

    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send(errorBody(new SovereignError("NOT_FOUND", `No route for ${request.method} ${request.url.split("?")[0]}.`), request.id)),
    );
  },
  { name: "sovereign-errors" },
);
