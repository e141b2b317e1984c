import type { FastifyPluginAsync } from "fastify";
import { dbPlugin } from "../services/db/dbPlugin.js";
import { schedulerPlugin } from "../services/scheduler/schedulerPlugin.js";
import { backupPlugin } from "../services/db/backupPlugin.js";
import { memoryPlugin } from "../services/memory/memoryPlugin.js";
import { identityPlugin } from "../services/identity/identityPlugin.js";
import { authPlugin } from "../services/auth/authPlugin.js";
import { inferencePlugin } from "../services/inference/inferencePlugin.js";
import { chatPlugin } from "../services/chat/chatPlugin.js";
import { statusPlugin } from "../services/status/statusPlugin.js";
import { webUiPlugin } from "../web-ui/plugin.js";
import { auditPlugin } from "../services/audit/auditPlugin.js";
import { metricsPlugin } from "../services/metrics/metricsPlugin.js";
import { limitsPlugin } from "./plugins/limits.js";
import { selfCheckPlugin } from "./plugins/selfCheck.js";
import { federationPlugin } from "../services/federation/federationPlugin.js";
import { tlsPlugin } from "../services/tls/tlsPlugin.js";

/**
 * The service plugins, in load order. Each declares its dependencies by
 * fastify-plugin name, so a wrong order fails at boot with a clear message.
 * Add one line per service.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const servicePlugins: FastifyPluginAsync<any>[] = [
  dbPlugin,
  schedulerPlugin,
  backupPlugin,
  memoryPlugin,
  identityPlugin,
  tlsPlugin,
  limitsPlugin,
  authPlugin,
  inferencePlugin,
  chatPlugin,
  statusPlugin,
  webUiPlugin,
  auditPlugin,
  selfCheckPlugin,
  metricsPlugin,
  federationPlugin,
];
