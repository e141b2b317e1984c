import type { FastifyInstance } from "fastify";

/**
 * GET /api/settings (admins): every setting with its value, default and help,
 * for the panel's read-only Settings page. Secret values are never sent.
 */
export async function settingsRoute(app: FastifyInstance): Promise<void> {
  const body = {
    settings: app.settingTable.map((s) => {
      // The table's keys are the Config's keys: read by name.
      const value: unknown = Reflect.get(app.config, s.key);
      const changed = JSON.stringify(value) !== JSON.stringify(s.default);
      return { key: s.key, value: s.secret && value != null ? "(secret)" : value, default: s.secret ? null : s.default, changed, help: s.help, env: s.env, flag: s.flag };
    }),
  };
  app.get("/api/settings", { config: { scope: "admin" } }, async () => body);
}
