import type { FastifyPluginAsync } from "fastify";
import { dbPlugin } from "../services/db/dbPlugin.js";
import { schedulerPlugin } from "../services/scheduler/schedulerPlugin.js";
import { backupPlugin } from "../services/db/backupPlugin.js";
import { memoryPlugin } from "../services/memory/memoryPlugin.js";
import { identityPlugin } from "../services/identity/identityPlugin.js";
import { authPlugin } from "../services/auth/authPlugin.js";
import { inferencePlugin } from "../services/inference/inferencePlugin.js";
import { chatPlugin } from "../services/chat/chatPlugin.js";
import { ollamaPlugin } from "../services/ollama/ollamaPlugin.js";
import { statusPlugin } from "../services/status/statusPlugin.js";
import { liveEventsPlugin } from "../services/status/liveEventsPlugin.js";
import { webUiPlugin } from "../web-ui/plugin.js";
import { auditPlugin } from "../services/audit/auditPlugin.js";
import { metricsPlugin } from "../services/metrics/metricsPlugin.js";
import { limitsPlugin } from "./plugins/limits.js";
import { corsPlugin } from "./plugins/cors.js";
import { selfCheckPlugin } from "./plugins/selfCheck.js";
import { federationPlugin } from "../services/federation/federationPlugin.js";
import { tlsPlugin } from "../services/tls/tlsPlugin.js";
import { updatePlugin } from "../services/update/updatePlugin.js";
import { updateGatePlugin } from "../services/update/updateGatePlugin.js";

/**
 * The service plugins, in load order. Each declares its dependencies by
 * fastify-plugin name (a wrong order fails at boot with a clear message), so
 * a plugin comes after everything it names:
 *
 *   db, identity → audit → scheduler → backups; tls; limits (before auth: it
 *   sheds load before credentials are checked) → auth (audit) → live events →
 *   inference (scheduler, audit, auth, live events) → memory (auth, inference)
 *   → chat (audit, auth, inference, memory) → status (auth, inference, live events) →
 *   web UI → metrics (scheduler, inference, chat) → self-check (metrics, inference)
 *   → update (db, audit, auth, metrics) → federation (audit, scheduler, auth, inference, memory).
 *
 * Federation is optional to chat and metrics: they reach it only through
 * `federationOf(app)`. Add one line per service.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const servicePlugins: FastifyPluginAsync<any>[] = [
  dbPlugin,
  identityPlugin,
  auditPlugin,
  schedulerPlugin,
  backupPlugin,
  tlsPlugin,
  limitsPlugin,
  corsPlugin,
  authPlugin,
  liveEventsPlugin,
  inferencePlugin,
  memoryPlugin,
  chatPlugin,
  ollamaPlugin,
  statusPlugin,
  webUiPlugin,
  metricsPlugin,
  selfCheckPlugin,
  updatePlugin,
  updateGatePlugin,
  federationPlugin,
];
