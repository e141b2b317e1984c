import fp from "fastify-plugin";
import { NodeIdentity } from "./NodeIdentity.js";

declare module "fastify" {
  interface FastifyInstance {
    identity: NodeIdentity;
  }
}

/** The node's signing identity, used by federation manifests and audit checkpoints. */
export const identityPlugin = fp(
  async (app) => {
    app.decorate("identity", NodeIdentity.loadOrCreate(app.config["paths.dataDir"]));
  },
  { name: "sovereign-identity", dependencies: ["sovereign-context"] },
);
