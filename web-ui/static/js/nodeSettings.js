// The node's editable settings (admins): read, save, reset, and the restart
// that applies them. Shared by the Settings, Peers and Dashboard pages.
import { h } from "./h.js";
import { api, explain } from "./api.js";

const routes = {
  editable: "/api/settings/editable",
  one: (key) => `/api/settings/${encodeURIComponent(key)}`,
  restart: "/api/settings/restart",
};

export const loadEditable = () => api(routes.editable);
export const saveSetting = (key, value) => api(routes.one(key), { method: "PUT", body: { value } });
export const resetSetting = (key) => api(routes.one(key), { method: "DELETE" });

/** The value that will be in effect after a restart (the saved one, else the running one). */
export const upcoming = (s) => (s.saved !== undefined ? s.saved : s.value);

/** Waits until the node answers again after a restart, then reloads the page. */
async function waitForNode(status) {
  const deadline = Date.now() + 180_000;
  let wentDown = false;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    const up = await fetch("/healthz", { cache: "no-store" }).then((r) => r.ok, () => false);
    if (!up) wentDown = true;
    else if (wentDown) return location.reload();
    status.textContent = wentDown ? "Restarting… waiting for the node to come back." : "Restarting… waiting for the node to stop.";
  }
  status.textContent = "The node has not come back after 3 minutes; check its console (journalctl -u sovereign).";
}

/**
 * "N settings apply after a restart", with a Restart now button where the
 * node can restart itself (under systemd), else the words to do it by hand.
 * Empty (null) when nothing waits for a restart.
 */
export function restartNotice(state) {
  const pending = state?.restart?.pending ?? [];
  if (pending.length === 0) return null;
  const status = h("span", { role: "status", "aria-live": "polite" });
  const names = pending.map((k) => h("code", null, k));
  const what = h("span", null, pending.length === 1 ? "1 saved setting applies after a restart: " : `${pending.length} saved settings apply after a restart: `, ...names.flatMap((n, i) => (i ? [", ", n] : [n])), ". ");
  if (!state.restart.available) {
    return h("div", { class: "notice", "data-testid": "restart-notice" }, what,
      "This node cannot restart itself here: stop it (Ctrl+C) and run ", h("code", null, "npm start"), " again (on a device, ", h("code", null, "systemctl restart sovereign"), ").");
  }
  const button = h("button", {
    type: "button",
    class: "small",
    onclick: async () => {
      button.disabled = true;
      try {
        await api(routes.restart, { method: "POST" });
        await waitForNode(status);
      } catch (err) {
        status.textContent = explain(err);
        button.disabled = false;
      }
    },
  }, "Restart now");
  return h("div", { class: "notice", "data-testid": "restart-notice" }, what, button, " ", status);
}
