import fp from "fastify-plugin";
import type { FastifyPluginAsync } from "fastify";
import { backupDirOf, createBackup, listBackups } from "./backups.js";
import "./errors.js";

/** Nightly verified backups with retention (a scheduler job), and /api/backups. */
export const backupPlugin = fp(
  async (app) => {
    const dir = backupDirOf(app.config["paths.dataDir"]);
    const keep = app.config["memory.backupKeep"];
    app.scheduler.register({
      name: "db-backup",
      schedule: app.config["memory.backupSchedule"] ?? app.tuning.jobWindows.value.backup,
      description: "Copies the database with SQLite's online backup API, verifies the copy and keeps the newest memory.backupKeep.",
      timeoutMs: 60 * 60_000,
      run: () => createBackup(app.db, dir, { keep }),
    });
    const routes: FastifyPluginAsync = async (r) => {
      r.get("/api/backups", { config: { scope: "admin" } }, async () => ({ dir, backups: listBackups(dir) }));
      r.post("/api/backups", { config: { scope: "admin" } }, async (_request, reply) => reply.code(201).send({ backup: await createBackup(app.db, dir, { keep }) }));
    };
    await app.register(routes);
  },
  { name: "sovereign-backups", dependencies: ["sovereign-context", "sovereign-db", "sovereign-scheduler"] },
);
