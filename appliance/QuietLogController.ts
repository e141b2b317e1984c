import { LogController, type FastifyReply, type FastifyRequest } from "fastify";

/**
 * Fastify's request lines, made quiet: the arriving request at trace and one
 * short line at debug when it completes, so that at the default level (info)
 * the console keeps the setup banner and real problems in view. Failures are
 * logged where they happen (core/http/errorReply.ts: 5xx at error with the
 * cause, refusals at debug); a response that itself failed still logs at error.
 */
export class QuietLogController extends LogController {
  // At trace the whole request (headers redacted by the logger) is there for whoever needs it.
  override incomingRequest(request: FastifyRequest): void {
    request.log.trace({ req: request }, "incoming request");
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (error) return super.requestCompleted(error, request, reply, metadata);
    reply.log.debug({ method: request.method, url: request.url.split("?")[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, "request");
  }

  override routeNotFound(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url.split("?")[0] }, "no route");
  }
}
