import { LogController, type FastifyReply, type FastifyRequest } from "fastify";

/**
 * Fastify's request lines, made quiet: nothing when a request arrives and one
 * short line at debug when it completes, so that at the default level (info)
 * the console keeps the setup banner and real problems in view. Failures are
 * logged where they happen (core/http/errorReply.ts: 5xx at error with the
 * cause, refusals at debug); a response that itself failed still logs at error.
 */
export class QuietLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (error) return super.requestCompleted(error, request, reply, metadata);
    reply.log.debug({ method: request.method, url: request.url.split("?")[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, "request");
  }

  override routeNotFound(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url.split("?")[0] }, "no route");
  }
}
