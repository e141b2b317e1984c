import { h, replace, table, fmtTime, fmtBytes, toast, statusLine, field } from "../h.js";
import { api, explain } from "../api.js";
import { loadEditable, saveSetting, restartNotice, upcoming } from "../nodeSettings.js";

export const title = "Peers";

const TIERS = ["core", "sandbox", "external", "unknown"];
const routes = {
  peers: "/api/federation/peers",
  stats: "/api/federation/stats",
  approve: (id) => `/api/federation/peers/${encodeURIComponent(id)}/approve`,
  tier: (id) => `/api/federation/peers/${encodeURIComponent(id)}/tier`,
  remove: (id) => `/api/federation/peers/${encodeURIComponent(id)}`,
};

/** Turning federation on: the broker to use, then federation.enabled, both through the settings editor. */
function enableForm(settings, onDone) {
  const mode = h("select", { name: "brokerMode" },
    h("option", { value: "embedded" }, "Host a broker on this node (other nodes on the LAN connect to it)"),
    h("option", { value: "external" }, "Use an external broker (Mosquitto, EMQX)"));
  const url = h("input", { type: "text", name: "brokerUrl", placeholder: "mqtt://broker.lan:1883", autocomplete: "off", spellcheck: "false" });
  const urlField = field("Broker URL", url, "mqtt://host:port or mqtts://host:port");
  const status = statusLine();
  const sync = () => (urlField.hidden = mode.value !== "external");
  const savedMode = upcoming(settings.get("federation.broker.mode") ?? {});
  if (savedMode === "external") mode.value = "external";
  url.value = upcoming(settings.get("federation.broker.url") ?? {}) ?? "";
  mode.addEventListener("change", sync);
  sync();
  const form = h("form", { "aria-label": "Turn on federation" }, field("Broker", mode), urlField, status, h("button", { type: "submit" }, "Turn on federation"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    status.textContent = "Saving…";
    try {
      await saveSetting("federation.broker.mode", mode.value);
      if (mode.value === "external") await saveSetting("federation.broker.url", url.value.trim());
      await saveSetting("federation.enabled", true);
      status.textContent = "Saved.";
      await onDone();
    } catch (err) {
      status.textContent = explain(err);
    }
  });
  return form;
}

// Pairing: the admin reads the fingerprint shown on the other node and types it
// here; the node refuses the approval if it does not match the peer's key.
export function render(root) {
  const fedBox = h("div");
  const discoveredBox = h("div");
  const listBox = h("div");
  const statsBox = h("div");
  const status = statusLine();
  let drawnFederation = null;

  function federationCard(self, state) {
    const settings = new Map(state.settings.map((s) => [s.key, s]));
    const wanted = upcoming(settings.get("federation.enabled") ?? {}) === true;
    const notice = restartNotice(state);
    const who = h("p", null, "This node: ", h("code", null, self.nodeId), " · fingerprint ", h("strong", { "data-testid": "self-fingerprint" }, self.fingerprint));
    if (self.enabled) {
      const off = h("button", { type: "button", class: "secondary small", onclick: () => change(() => saveSetting("federation.enabled", false), "Saved: federation turns off after a restart.") }, "Turn off federation");
      return [h("p", null, h("span", { class: "badge good" }, "on"), " Federation is on: ", self.connected ? "connected to the broker." : "the broker link is down (packets wait in the outbox)."), who, wanted ? null : notice, wanted ? off : null];
    }
    if (wanted) return [h("p", null, h("span", { class: "badge" }, "pending"), " Federation is saved as on and starts after a restart."), notice, who];
    return [
      h("p", null, h("span", { class: "badge bad" }, "off"), " Federation is off: this node talks to no other node. Turned on, it publishes its signed manifest, finds nodes on the LAN and syncs with the ones you approve."),
      who,
      enableForm(settings, refresh),
    ];
  }

  async function refresh() {
    try {
      const [data, stats, state] = await Promise.all([api(routes.peers), api(routes.stats), loadEditable()]);
      // Keep a half-filled form while the periodic refresh runs.
      const key = JSON.stringify([data.self.enabled, data.self.connected, state.restart.pending]);
      if (key !== drawnFederation || !fedBox.querySelector("form")) {
        replace(fedBox, federationCard(data.self, state));
        drawnFederation = key;
      }
      const known = new Set(data.peers.map((p) => p.nodeId));
      replace(discoveredBox, (data.discovered ?? []).length === 0
        ? h("p", { class: "muted" }, data.self.enabled ? "No other node found on the LAN yet (DNS-SD, _sovereign._tcp)." : "Nothing is discovered while federation is off.")
        : table("Nodes discovered on the LAN", ["Node", "Addresses", "Fingerprint", "Seen"], data.discovered.map((d) => [
          h("span", null, d.name, known.has(d.nodeId) ? h("span", { class: "badge" }, " known") : null, h("span", { class: "hint" }, d.nodeId)),
          `${d.addresses.join(", ")} (port ${d.httpPort})`,
          d.fingerprint ? h("code", null, d.fingerprint) : "–",
          fmtTime(d.seenAt),
        ])));
      replace(listBox, data.peers.length === 0
        ? h("p", { class: "muted" }, "No peers yet. ", data.self.enabled ? "A node appears here once its signed manifest reaches this node; then approve it by its fingerprint." : h("span", null, "Turn on federation ", h("a", { href: "#/peers", onclick: (e) => { e.preventDefault(); fedBox.querySelector("select, button")?.focus(); } }, "above"), "; nodes appear here once their signed manifest arrives."))
        : table("Known peers", ["Peer", "Fingerprint", "Tier", "Status", "Capacity", ""], data.peers.map((p) => [
          h("span", null, p.name, h("span", { class: "hint" }, p.nodeId)),
          h("code", null, p.fingerprint),
          h("span", { class: `badge ${p.tier === "core" ? "good" : p.tier === "unknown" ? "bad" : ""}` }, p.tier),
          `${p.online ? "online" : "offline"} · seen ${fmtTime(p.lastSeen)}`,
          p.inference ? `${p.inference.freeSlots}/${p.inference.parallel} free · ${p.hardware ? `${p.hardware.cores} cores, ${fmtBytes(p.hardware.memoryBytes)}` : ""}` : "–",
          actions(p),
        ])));
      const drops = Object.entries(stats.drops).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
      replace(statsBox, h("p", { class: "muted" },
        `Packets in ${stats.packetsIn}, out ${stats.packetsOut}; applied ${stats.applied}, quarantined ${stats.quarantined}, duplicates ${stats.duplicates}; dropped: ${drops}.`));
    } catch (err) {
      replace(listBox, h("p", { class: "error" }, explain(err)));
    }
  }

  function actions(p) {
    if (p.tier === "unknown") {
      const fp = h("input", { type: "text", placeholder: "Fingerprint read aloud", "aria-label": `Fingerprint of ${p.name}`, size: 22, autocomplete: "off" });
      const tier = h("select", { "aria-label": `Tier for ${p.name}` }, ...TIERS.slice(0, 3).map((t) => h("option", { value: t }, t)));
      return h("div", { class: "row" }, fp, tier,
        h("button", { type: "button", class: "small", onclick: () => change(() => api(routes.approve(p.nodeId), { method: "POST", body: { tier: tier.value, fingerprint: fp.value.trim() } }), `Approved ${p.name} as ${tier.value}.`) }, "Approve"));
    }
    const tier = h("select", { "aria-label": `Tier of ${p.name}` }, ...TIERS.map((t) => h("option", { value: t, selected: t === p.tier }, t)));
    return h("div", { class: "row" }, tier,
      h("button", { type: "button", class: "secondary small", onclick: () => change(() => api(routes.tier(p.nodeId), { method: "PUT", body: { tier: tier.value } }), `${p.name} is now ${tier.value}.`) }, "Set tier"),
      h("button", { type: "button", class: "danger small", onclick: () => confirm(`Forget ${p.name}? It must be approved again to sync.`) && change(() => api(routes.remove(p.nodeId), { method: "DELETE" }), `Forgot ${p.name}.`) }, "Forget"));
  }

  async function change(call, done) {
    try {
      await call();
      status.textContent = done;
      await refresh();
    } catch (err) {
      toast(explain(err), "error");
    }
  }

  root.append(
    h("h1", null, "Peers"),
    h("section", { class: "card", "aria-labelledby": "fed-title" }, h("h2", { id: "fed-title" }, "Federation"), fedBox, statsBox),
    h("section", { class: "card", "aria-labelledby": "disc-title" }, h("h2", { id: "disc-title" }, "Discovered on the LAN"), discoveredBox),
    h("section", { class: "card", "aria-labelledby": "peers-title" }, h("h2", { id: "peers-title" }, "Peers"), listBox, status),
  );
  void refresh();
  const timer = setInterval(refresh, 10_000);
  return () => clearInterval(timer);
}
