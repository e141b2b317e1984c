import fp from "fastify-plugin";
import { join } from "node:path";
import { Database } from "./Database.js";

declare module "fastify" {
  interface FastifyInstance {
    db: Database;
  }
}

/** Opens <dataDir>/sovereign.db once for every service. The memory service adds its checks and jobs. */
export const dbPlugin = fp(
  async (app) => {
    const db = new Database(join(app.config["paths.dataDir"], "sovereign.db"), { cacheMb: app.tuning.sqliteCacheMb.value });
    app.decorate("db", db);
    app.addHook("onClose", async () => db.close());
  },
  { name: "sovereign-db", dependencies: ["sovereign-context"] },
);
