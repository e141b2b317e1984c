import { h, replace, table, fmtTime, fmtBytes, toast, statusLine } from "../h.js";
import { api, explain } from "../api.js";

export const title = "Peers";

const TIERS = ["core", "sandbox", "external", "unknown"];
const routes = {
  peers: "/api/federation/peers",
  stats: "/api/federation/stats",
  approve: (id) => `/api/federation/peers/${encodeURIComponent(id)}/approve`,
  tier: (id) => `/api/federation/peers/${encodeURIComponent(id)}/tier`,
  remove: (id) => `/api/federation/peers/${encodeURIComponent(id)}`,
};

// Pairing: the admin reads the fingerprint shown on the other node and types it
// here; the node refuses the approval if it does not match the peer's key.
export function render(root) {
  const selfBox = h("div");
  const listBox = h("div");
  const statsBox = h("div");
  const status = statusLine();

  async function refresh() {
    try {
      const [data, stats] = await Promise.all([api(routes.peers), api(routes.stats)]);
      replace(selfBox, h("p", null, "This node: ", h("code", null, data.self.nodeId), " fingerprint ", h("strong", null, data.self.fingerprint), " · ",
        !data.self.enabled ? "federation is off" : data.self.connected ? "connected to the broker" : "broker link down (packets wait in the outbox)"));
      replace(listBox, data.peers.length === 0
        ? h("p", { class: "muted" }, "No peers seen yet. Nodes appear here once their signed manifest reaches this node.")
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
      const fp = h("input", { type: "text", placeholder: "Fingerprint read aloud", "aria-label": `Fingerprint of ${p.name}`, size: 22 });
      const tier = h("select", { "aria-label": `Tier for ${p.name}` }, ...TIERS.slice(0, 3).map((t) => h("option", { value: t }, t)));
      return h("div", { class: "row" }, fp, tier,
        h("button", { type: "button", class: "small", onclick: () => change(routes.approve(p.nodeId), "POST", { tier: tier.value, fingerprint: fp.value }, `Approved ${p.name}`) }, "Approve"));
    }
    const tier = h("select", { "aria-label": `Tier of ${p.name}` }, ...TIERS.map((t) => h("option", { value: t, selected: t === p.tier }, t)));
    return h("div", { class: "row" }, tier,
      h("button", { type: "button", class: "secondary small", onclick: () => change(routes.tier(p.nodeId), "PUT", { tier: tier.value }, `${p.name} is now ${tier.value}`) }, "Set tier"),
      h("button", { type: "button", class: "secondary small", onclick: () => confirm(`Forget ${p.name}?`) && change(routes.remove(p.nodeId), "DELETE", undefined, `Removed ${p.name}`) }, "Remove"));
  }

  async function change(path, method, body, done) {
    try {
      await api(path, { method, ...(body ? { body } : {}) });
      status.textContent = done;
      await refresh();
    } catch (err) {
      toast(explain(err), "error");
    }
  }

  root.append(
    h("h1", null, "Peers"),
    h("section", { class: "card", "aria-label": "This node" }, selfBox, statsBox),
    h("section", { class: "card", "aria-label": "Peers" }, listBox, status),
  );
  void refresh();
  const timer = setInterval(refresh, 10_000);
  return () => clearInterval(timer);
}
