import { h, replace, table, fmtTime, field, statusLine } from "../h.js";
import { api, explain } from "../api.js";

export const title = "Audit";

const PAGE = 50;

/** Details wrap on the page, with a one-line summary; the whole JSON opens on demand. */
function detailCell(details, names) {
  const entries = Object.entries(details ?? {});
  if (entries.length === 0) return "";
  const value = (v) => (typeof v === "string" ? names[v] ?? v : JSON.stringify(v));
  const summary = entries.map(([k, v]) => `${k}: ${value(v)}`).join(" · ");
  if (summary.length <= 80) return h("span", { class: "details-line" }, summary);
  return h("details", { class: "audit-details" }, h("summary", null, `${summary.slice(0, 80)}…`), h("pre", null, JSON.stringify(details, null, 2)));
}

/** A user name for an id, keeping the id at hand for whoever needs it. */
function who(id, names) {
  if (!id) return "–";
  const name = names[id];
  return name ? h("span", { title: id }, name) : h("code", { class: "wrap" }, id);
}

export function render(root) {
  const verdict = h("div", null, h("p", { class: "muted" }, "Checking the chain…"));
  const eventsBox = h("div");
  const checkpointsBox = h("div");
  const status = statusLine();
  const typeSelect = h("select", { name: "type" }, h("option", { value: "" }, "Every type"));
  const userSelect = h("select", { name: "actor" }, h("option", { value: "" }, "Everyone"));
  const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => void loadEvents(false) }, "Older events");
  let cursor = null;

  async function verify() {
    replace(verdict, h("p", { class: "muted" }, "Checking every event and signed checkpoint…"));
    try {
      const r = await api("/api/audit/verify");
      const cps = r.checkpoints ?? {};
      const events = `${r.events} event${r.events === 1 ? "" : "s"}`;
      const signed = cps.valid > 0
        ? ` and ${cps.valid} signed checkpoint${cps.valid === 1 ? "" : "s"} verify${cps.latestIndex != null ? ` (the latest covers event ${cps.latestIndex})` : ""}.`
        : ": no signed checkpoint yet (see Checkpoints below).";
      replace(
        verdict,
        r.ok
          ? h("p", null, h("span", { class: "badge good" }, "intact"), ` The chain of ${events} is unbroken`, signed)
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
    if (typeSelect.value) q.set("type", typeSelect.value);
    if (userSelect.value) q.set("actor", userSelect.value);
    status.textContent = "Loading…";
    try {
      const data = await api(`/api/audit?${q}`);
      const events = data.events ?? [];
      const names = data.names ?? {};
      const rows = events.map((e) => [String(e.seq), fmtTime(e.ts), h("code", null, e.type), who(e.actor, names), who(e.subject, names), detailCell(e.details, names)]);
      const headers = ["#", "When", "Event", "By", "On", "Details"];
      if (reset || !eventsBox.firstChild) replace(eventsBox, table("Audit events, newest first", headers, rows));
      else {
        const tbody = eventsBox.querySelector("tbody");
        for (const r of rows) tbody?.append(h("tr", null, r.map((c, i) => h("td", { "data-label": headers[i] }, c))));
      }
      cursor = events.length ? events[events.length - 1].seq : cursor;
      more.hidden = events.length < PAGE || cursor === 1;
      const filtered = typeSelect.value || userSelect.value;
      status.textContent = `${eventsBox.querySelectorAll("tbody td:first-child:not(.empty)").length} shown of ${data.head?.seq ?? "?"} events${filtered ? " (filtered)" : ""}.`;
    } catch (err) {
      status.textContent = "";
      replace(eventsBox, h("p", { class: "error" }, explain(err)));
    }
  }

  async function loadFilters() {
    const [types, users] = await Promise.all([api("/api/audit/types").catch(() => ({ types: [] })), api("/api/users").catch(() => ({ users: [] }))]);
    typeSelect.append(...(types.types ?? []).map((t) => h("option", { value: t }, t)));
    userSelect.append(...(users.users ?? []).map((u) => h("option", { value: u.id }, u.username)));
  }

  async function loadCheckpoints() {
    try {
      const data = await api("/api/audit/checkpoints?limit=10");
      const list = data.checkpoints ?? [];
      const s = data.schedule;
      const when = s ? `The next one is signed around ${fmtTime(s.nextAt)} if events were added (every ${s.intervalMinutes} minutes${s.everyEvents ? `, and after every ${s.everyEvents} events` : ""}), and at shutdown.` : "";
      replace(
        checkpointsBox,
        list.length === 0
          ? h("p", null, "No checkpoints yet: the first is signed around ", s ? h("strong", null, fmtTime(s.nextAt)) : "the next hour", ". ", h("span", { class: "hint" }, when, " Each signs the head of the chain, so a rewritten log shows."))
          : [
              h("p", { class: "hint" }, `Signed by node ${data.nodeId}. Peers keep copies, so a rewritten log shows. ${when}`),
              table("Latest signed checkpoints", ["When", "Covers event", "Why", "Hash"], list.map((c) => [fmtTime(c.ts), String(c.seq), c.reason, h("code", null, `${c.hash.slice(0, 16)}…`)])),
            ],
      );
    } catch (err) {
      replace(checkpointsBox, h("p", { class: "error" }, explain(err)));
    }
  }

  const filter = h(
    "form",
    { class: "inline", "aria-label": "Filter events", onsubmit: (e) => { e.preventDefault(); void loadEvents(true); } },
    field("Event type", typeSelect),
    field("By user", userSelect),
    h("button", { type: "submit" }, "Filter"),
  );

  root.append(
    h("h1", null, "Audit"),
    h("section", { class: "card", "aria-labelledby": "integrity-title" }, h("h2", { id: "integrity-title" }, "Integrity"), verdict, h("button", { type: "button", class: "secondary small", onclick: () => void verify() }, "Verify again")),
    h("section", { class: "card", "aria-labelledby": "events-title" }, h("h2", { id: "events-title" }, "Events"), filter, eventsBox, more, status),
    h("section", { class: "card", "aria-labelledby": "cp-title" }, h("h2", { id: "cp-title" }, "Checkpoints"), checkpointsBox),
  );
  void verify();
  void loadFilters().then(() => loadEvents(true));
  void loadCheckpoints();
}
