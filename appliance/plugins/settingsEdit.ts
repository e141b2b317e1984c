import fp from "fastify-plugin";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { describeAccepted, type Setting } from "../../core/config/setting.js";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { editableByKey, editableSettings, flattenSettings, panelSettingsPath, readPanelSettings, writePanelSetting } from "../config/panelSettings.js";
import { parseValue, SettingValueError, type LayerName } from "../config/parseValue.js";
import "../config/errors.js";

export interface SettingsEditOptions {
  /** Which layer set each running value (from loadConfig); unknown in bare test builds. */
  sources?: Readonly<Record<string, LayerName>> | undefined;
  /** Ends the process so that systemd starts it again; absent when nothing would restart it (development). */
  restart?: (() => void) | undefined;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The setting's type for the panel's editor (RegExps do not travel as JSON). */
function typeView(s: Setting) {
  const t = s.type;
  switch (t.kind) {
    case "enum":
      return { kind: t.kind, values: t.values };
    case "integer":
    case "number":
      return { kind: t.kind, min: t.min ?? null, max: t.max ?? null };
    default:
      return { kind: t.kind };
  }
}

/**
 * The panel's settings editor (admins): GET /api/settings/editable, PUT and
 * DELETE /api/settings/:key, POST /api/settings/restart. Each value goes
 * through the same parser as the config layers, is written to
 * <dataDir>/settings.json and recorded in the audit log. Live settings
 * (log.level) apply at once; the rest after a restart, which the node does
 * itself under systemd.
 */
export const settingsEditPlugin = fp<SettingsEditOptions>(
  async (app, opts) => {
    const path = panelSettingsPath(app.config["paths.dataDir"]);
    const table = new Map(app.settingTable.map((s) => [s.key, s]));
    const running = new Map<string, unknown>(editableSettings.map((e) => [e.key, Reflect.get(app.config, e.key) as unknown]));
    const admin = { scope: "admin" as const };

    const definition = (key: string): Setting => {
      const s = editableByKey.has(key) ? table.get(key) : undefined;
      if (!s) throw new SovereignError("SETTING_NOT_EDITABLE", `"${key}" is not a setting the panel can change.`, { details: { key } });
      return s;
    };

    const view = (key: string, saved: ReadonlyMap<string, unknown>) => {
      const s = definition(key);
      const e = editableByKey.get(key)!;
      const source = opts.sources?.[key] ?? null;
      const overriddenBy = source === "env" ? { layer: "env", name: s.env } : source === "flag" ? { layer: "flag", name: s.flag } : null;
      const hasSaved = saved.has(key);
      // What a restart would change: a saved value not yet running, or a reset of one that was.
      const pending = !overriddenBy && !e.live && (hasSaved ? !same(saved.get(key), running.get(key)) : source === "panel");
      return {
        key, group: e.group, help: s.help, accepts: describeAccepted(s), type: typeView(s), nullable: s.nullable, default: s.default,
        value: running.get(key) ?? null, saved: hasSaved ? saved.get(key) : undefined, source, overriddenBy, live: Boolean(e.live), pending,
      };
    };

    const state = () => {
      const saved = new Map(flattenSettings(readPanelSettings(path) ?? {}));
      const settings = editableSettings.map((e) => view(e.key, saved));
      return { file: path, restart: { available: Boolean(opts.restart), pending: settings.filter((s) => s.pending).map((s) => s.key) }, settings };
    };

    const audit = (request: FastifyRequest, type: string, subject: string | null, details: Record<string, unknown>) => {
      app.audit.record({ type, actor: request.principal?.userId ?? null, subject, details });
    };

    app.get("/api/settings/editable", { config: admin }, async () => state());

    app.put<{ Params: { key: string }; Body: { value: unknown } }>(
      "/api/settings/:key",
      {
        config: admin,
        schema: {
          params: { type: "object", required: ["key"], properties: { key: { type: "string", maxLength: 128 } } },
          body: { type: "object", required: ["value"], additionalProperties: false, properties: { value: {} } },
        },
      },
      async (request) => {
        const { key } = request.params;
        const s = definition(key);
        let value: unknown;
        try {
          // Strings from a text box are coerced like env values; JSON numbers and booleans pass as they are.
          value = parseValue(s, request.body.value, "the panel", true);
        } catch (err) {
          if (!(err instanceof SettingValueError)) throw err;
          throw new SovereignError("SETTING_INVALID", `${key} accepts ${err.expected}; got ${JSON.stringify(request.body.value)}.`, { details: { key, expected: err.expected } });
        }
        const refused = editableByKey.get(key)!.check?.(value);
        if (refused) throw new SovereignError("SETTING_INVALID", `${key} accepts ${refused}; got ${JSON.stringify(request.body.value)}.`, { details: { key, expected: refused } });
        const before = readPanelSettings(path);
        const from = before === undefined ? undefined : new Map(flattenSettings(before)).get(key);
        writePanelSetting(path, key, value);
        if (editableByKey.get(key)!.live) applyLive(app, key, value, running);
        audit(request, "settings.changed", key, { from: from ?? running.get(key) ?? null, to: value, file: path });
        return state().settings.find((x) => x.key === key);
      },
    );

    // Back to what the config file, board or default says (after a restart, unless live).
    app.delete<{ Params: { key: string } }>("/api/settings/:key", { config: admin }, async (request) => {
      const { key } = request.params;
      definition(key);
      writePanelSetting(path, key, undefined);
      audit(request, "settings.reset", key, { file: path });
      return state().settings.find((x) => x.key === key);
    });

    app.post("/api/settings/restart", { config: admin }, async (request, reply) => {
      const restart = opts.restart;
      if (!restart) throw new SovereignError("RESTART_UNAVAILABLE");
      audit(request, "settings.restart_requested", null, { pending: state().restart.pending });
      request.log.warn("restart requested from the panel");
      // Answer first; the graceful stop then waits for this response like any other.
      reply.raw.once("finish", () => setImmediate(restart));
      return reply.code(202).send({ restarting: true });
    });
  },
  { name: "sovereign-settings-edit", dependencies: ["sovereign-context", "sovereign-audit", "sovereign-auth"] },
);

/** The few settings the running node can take without a restart. */
function applyLive(app: FastifyInstance, key: string, value: unknown, running: Map<string, unknown>): void {
  if (key === "log.level" && typeof value === "string") app.log.level = value;
  running.set(key, value);
}
