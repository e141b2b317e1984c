import type { FastifyInstance } from "fastify";
import { keyRoutes } from "./keyRoutes.js";
import { quotaRoutes } from "./quotaRoutes.js";
import { sessionRoutes } from "./sessionRoutes.js";
import { setupRoutes } from "./setupRoutes.js";
import { userRoutes } from "./userRoutes.js";

/** Every HTTP route of the auth service. */
export async function authRoutes(app: FastifyInstance): Promise<void> {
  await app.register(setupRoutes);
  await app.register(sessionRoutes);
  await app.register(userRoutes);
  await app.register(keyRoutes);
  await app.register(quotaRoutes);
}
