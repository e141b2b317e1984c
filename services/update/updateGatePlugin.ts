import fp from "fastify-plugin";
import { startHealthGate } from "./healthGate.js";
import "./settings.js";

/**
 * The health gate of a trial boot (see ./healthGate.ts): once the node is
 * ready, a booted slot on trial is marked good after its readiness checks
 * pass for update.healthGateSeconds in a row, or given up (boot entry spent,
 * plain reboot into the old slot) when that has not happened within
 * update.healthGateTimeoutSeconds.
 */
export const updateGatePlugin = fp(
  async (app) => {
    let gate: ReturnType<typeof startHealthGate> | null = null;
    app.addHook("onReady", async () => {
      const s = app.update.status();
      if (!s.trial || s.trial.slot !== s.bootedSlot) return;
      const trial = s.trial;
      app.log.info({ slot: trial.slot, version: trial.version, passSeconds: app.config["update.healthGateSeconds"] }, "trial boot: the health gate runs");
      gate = startHealthGate({
        passMs: app.config["update.healthGateSeconds"] * 1000,
        timeoutMs: app.config["update.healthGateTimeoutSeconds"] * 1000,
        intervalMs: app.config["update.healthGateIntervalSeconds"] * 1000,
        check: async () => {
          const failing = Object.entries(await app.health.run()).filter(([, c]) => !c.ok);
          return failing.length === 0 ? { ok: true, detail: "ready" } : { ok: false, detail: failing.map(([name, c]) => `${name}: ${c.detail}`).join("; ") };
        },
        onPass: () => {
          try {
            const r = app.update.markGood("health-gate");
            app.log.info(r, "trial boot passed the health gate: the slot is marked good");
          } catch (err) {
            app.log.error({ err }, "the health gate passed but marking the slot good failed");
          }
        },
        onTimeout: (why) => {
          try {
            const r = app.update.abandonTrial(why);
            app.log.error({ ...r, why }, "trial boot failed the health gate: rebooting into the old slot");
          } catch (err) {
            app.log.error({ err, why }, "the health gate gave the trial up but could not leave it");
          }
        },
      });
    });
    app.addHook("onClose", async () => gate?.stop());
  },
  { name: "sovereign-update-gate", dependencies: ["sovereign-update", "sovereign-health"] },
);
