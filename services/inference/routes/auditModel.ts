import type { FastifyInstance, FastifyRequest } from "fastify";

/** Records a model change in the audit log; a failing record does not fail the change. */
export function auditModel(app: FastifyInstance, request: FastifyRequest, type: string, subject: string | null, details: Record<string, unknown>): void {
  try {
    app.audit.record({ type, actor: request.principal?.userId ?? null, subject, details });
  } catch (err) {
    request.log.error({ err, type }, "audit record failed");
  }
}
