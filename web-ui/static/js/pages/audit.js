import { h, replace, table, fmtTime, field, statusLine } from "../h.js";
import { api, explain } from "../api.js";

export const title = "Audit";

const PAGE = 50;

function detailText(details) {
  if (!details || Object.keys(details).length === 0) return "";
  const text = JSON.stringify(details);
  return h("code", { title: text }, text.length > 160 ? `${text.slice(0, 160)}…` : text);
}

export function render(root) {
  const verdict = h("div", null, h("p", { class: "muted" }, "Checking the chain…"));
  const eventsBox = h("div");
  const checkpointsBox = h("div");
  const status = statusLine();
  const typeInput = h("input", { type: "text", name: "type", placeholder: "e.g. auth.login_failed", pattern: "[a-z][a-z0-9_.]*", maxlength: 64, autocomplete: "off" });
  const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => void loadEvents(false) }, "Older events");
  let cursor = null;

  async function verify() {
    replace(verdict, h("p", { class: "muted" }, "Checking every event and signed checkpoint…"));
    try {
      const r = await api("/api/audit/verify");
      const cps = r.checkpoints ?? {};
      replace(
        verdict,
        r.ok
          ? h("p", null, h("span", { class: "badge good" }, "intact"), ` ${r.events} events; ${cps.valid} signed checkpoints verify`, cps.latestIndex != null ? ` (the latest covers event ${cps.latestIndex}).` : ".")
          : h("div", { role: "alert" },
              h("p", null, h("span", { class: "badge bad" }, "broken"), ` at event ${r.firstBadIndex}: ${r.reason}`),
              h("p", { class: "hint" }, "Events from that index on cannot be trusted. Restore a backup made before it, and keep this node's log for investigation.")),
        cps.invalid ? h("p", { class: "error" }, `${cps.invalid} checkpoint(s) carry a signature that is not this node's.`) : null,
      );
    } catch (err) {
      replace(verdict, h("p", { class: "error" }, explain(err)));
    }
  }

  async function loadEvents(reset) {
    if (reset) {
      cursor = null;
      eventsBox.replaceChildren();
    }
    const q = new window.URLSearchParams({ limit: String(PAGE) });
    if (cursor) q.set("before", String(cursor));
    const type = typeInput.value.trim();
    if (type) q.set("type", type);
    status.textContent = "Loading…";
    try {
      const data = await api(`/api/audit?${q}`);
      const events = data.events ?? [];
      const rows = events.map((e) => [String(e.seq), fmtTime(e.ts), h("code", null, e.type), e.actor ?? "–", e.subject ?? "–", detailText(e.details)]);
      if (reset || !eventsBox.firstChild) replace(eventsBox, table("Audit events, newest first", ["#", "When", "Event", "By", "On", "Details"], rows));
      else {
        const tbody = eventsBox.querySelector("tbody");
        for (const r of rows) tbody?.append(h("tr", null, r.map((c) => h("td", null, c))));
      }
      cursor = events.length ? events[events.length - 1].seq : cursor;
      more.hidden = events.length < PAGE || cursor === 1;
      status.textContent = `${eventsBox.querySelectorAll("tbody tr").length} shown of ${data.head?.seq ?? "?"} events.`;
    } catch (err) {
      status.textContent = "";
      replace(eventsBox, h("p", { class: "error" }, explain(err)));
    }
  }

  async function loadCheckpoints() {
    try {
      const data = await api("/api/audit/checkpoints?limit=10");
      replace(
        checkpointsBox,
        h("p", { class: "hint" }, `Signed by node ${data.nodeId}. Peers keep copies, so a rewritten log shows.`),
        table("Latest signed checkpoints", ["When", "Covers event", "Why", "Hash"], (data.checkpoints ?? []).map((c) => [fmtTime(c.ts), String(c.seq), c.reason, h("code", null, `${c.hash.slice(0, 16)}…`)])),
      );
    } catch (err) {
      replace(checkpointsBox, h("p", { class: "error" }, explain(err)));
    }
  }

  const filter = h(
    "form",
    { class: "row", onsubmit: (e) => { e.preventDefault(); void loadEvents(true); } },
    field("Event type", typeInput, "Leave empty for every event."),
    h("button", { type: "submit" }, "Filter"),
  );

  root.append(
    h("h1", null, "Audit"),
    h("section", { class: "card", "aria-label": "Chain verification" }, h("h2", null, "Integrity"), verdict, h("button", { type: "button", class: "secondary small", onclick: () => void verify() }, "Verify again")),
    h("section", { class: "card", "aria-label": "Events" }, h("h2", null, "Events"), filter, eventsBox, more, status),
    h("section", { class: "card", "aria-label": "Checkpoints" }, h("h2", null, "Checkpoints"), checkpointsBox),
  );
  void verify();
  void loadEvents(true);
  void loadCheckpoints();
}
