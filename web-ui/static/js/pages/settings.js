import { h, field, statusLine, replace } from "../h.js";
import { api, explain, setCsrfToken } from "../api.js";
import { loadEditable, saveSetting, resetSetting, restartNotice } from "../nodeSettings.js";

export const title = "Settings";

const routes = { password: "/api/auth/password", settings: "/api/settings" };

// Groups in the order a person looks for them; a setting the panel edits names its own group.
const ORDER = ["Network", "Federation", "Users and quotas", "Logging", "Jobs", "Memory", "Inference", "Audit", "Limits", "Health", "Hardware tuning", "Storage", "Other"];
const PREFIX = { node: "Network", server: "Network", federation: "Federation", auth: "Users and quotas", log: "Logging", scheduler: "Jobs", memory: "Memory", inference: "Inference", ollama: "Inference", audit: "Audit", limits: "Limits", watchdog: "Health", selfCheck: "Health", tuning: "Hardware tuning", paths: "Storage" };
const groupOf = (s, edit) => edit?.group ?? PREFIX[s.key.split(".")[0]] ?? "Other";

const show = (v) => (v === null || v === undefined ? "auto" : Array.isArray(v) ? v.join(", ") || "(none)" : typeof v === "boolean" ? (v ? "on" : "off") : String(v));

/** The input for one editable setting, by its type; read() gives the value to send. */
function editor(e) {
  const label = `New value for ${e.key}`;
  const t = e.type;
  const current = e.saved !== undefined ? e.saved : e.value;
  if (t.kind === "boolean" || t.kind === "enum") {
    const values = t.kind === "boolean" ? [[true, "on"], [false, "off"]] : t.values.map((v) => [v, v]);
    const select = h("select", { "aria-label": label }, values.map(([v, text]) => h("option", { value: String(v), selected: v === current }, text)));
    return { el: select, read: () => (t.kind === "boolean" ? select.value === "true" : select.value) };
  }
  const numeric = t.kind === "integer" || t.kind === "number";
  const input = h("input", {
    type: numeric ? "number" : "text",
    "aria-label": label,
    value: current === null || current === undefined ? "" : Array.isArray(current) ? current.join(", ") : String(current),
    placeholder: e.nullable ? "auto" : null,
    min: numeric && t.min !== null ? t.min : null,
    max: numeric && t.max !== null ? t.max : null,
    step: t.kind === "integer" ? 1 : null,
    spellcheck: "false",
    autocomplete: "off",
  });
  return { el: input, read: () => (input.value.trim() === "" && e.nullable ? null : numeric && input.value.trim() !== "" ? Number(input.value) : input.value.trim()) };
}

function editableCell(e, onChanged) {
  const ed = editor(e);
  const status = h("span", { class: "hint", role: "status", "aria-live": "polite" });
  const notes = () => [
    e.overriddenBy ? h("span", { class: "hint warn-text" }, `Set by ${e.overriddenBy.layer === "env" ? "the environment variable" : "the flag"} ${e.overriddenBy.name}, which wins over the panel: a saved value applies once that is removed.`) : null,
    h("span", { class: "hint" }, e.live ? "Applies at once." : e.pending ? `Saved: ${show(e.saved)}; applies after a restart.` : "Applies after a restart."),
  ];
  const noteBox = h("span", null, notes());
  const save = h("button", { type: "submit", class: "small", "aria-label": `Save ${e.key}` }, "Save");
  const reset = h("button", { type: "button", class: "secondary small", "aria-label": `Reset ${e.key}`, hidden: e.saved === undefined, onclick: () => act(() => resetSetting(e.key), () => "Reset: the config file's (or the default) value applies after a restart.") }, "Reset");
  async function act(call, done) {
    status.textContent = "Saving…";
    try {
      Object.assign(e, await call());
      status.textContent = done(e);
      reset.hidden = e.saved === undefined;
      replace(noteBox, notes());
      await onChanged();
    } catch (err) {
      status.textContent = explain(err);
    }
  }
  const form = h("form", { class: "setting-edit", onsubmit: (ev) => { ev.preventDefault(); void act(() => saveSetting(e.key, ed.read()), (x) => (x.live ? "Saved and applied." : "Saved.")); } },
    h("div", { class: "row" }, ed.el, save, reset), noteBox, status);
  return form;
}

function settingRow(s, edit, onChanged) {
  const name = h("td", { "data-label": "Setting" }, h("code", null, s.key), h("span", { class: "hint" }, s.help));
  const value = edit
    ? h("td", { "data-label": "Value" }, editableCell(edit, onChanged))
    : h("td", { "data-label": "Value" }, show(s.value), s.changed ? h("span", { class: "badge good" }, " set") : null,
      h("span", { class: "hint" }, s.changed ? `default: ${show(s.default)} · ` : "", h("code", null, s.env), " · ", h("code", null, s.flag)));
  const row = h("tr", null, name, value);
  row.dataset.search = `${s.key} ${s.help}`.toLowerCase();
  return row;
}

function nodeSettings(root) {
  const notice = h("div");
  const box = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const filter = h("input", { type: "search", name: "filter", placeholder: "e.g. federation, port, schedule", autocomplete: "off" });
  let groups = [];

  const applyFilter = () => {
    const q = filter.value.trim().toLowerCase();
    for (const g of groups) {
      let shown = 0;
      for (const row of g.rows) {
        row.hidden = q !== "" && !row.dataset.search.includes(q);
        if (!row.hidden) shown++;
      }
      g.el.hidden = shown === 0;
      g.el.open = q !== "" ? shown > 0 : g.editable;
    }
  };
  filter.addEventListener("input", applyFilter);

  const refreshNotice = async () => {
    const state = await loadEditable();
    replace(notice, restartNotice(state));
    return state;
  };

  Promise.all([api(routes.settings), refreshNotice()])
    .then(([all, state]) => {
      const edits = new Map(state.settings.map((e) => [e.key, e]));
      const byGroup = new Map();
      for (const s of all.settings ?? []) {
        const g = groupOf(s, edits.get(s.key));
        if (!byGroup.has(g)) byGroup.set(g, []);
        byGroup.get(g).push(s);
      }
      const names = [...byGroup.keys()].sort((a, b) => (ORDER.indexOf(a) + 100) % 100 - (ORDER.indexOf(b) + 100) % 100);
      groups = names.map((g) => {
        // Editable settings first within their group.
        const list = byGroup.get(g).sort((a, b) => Number(edits.has(b.key)) - Number(edits.has(a.key)));
        const rows = list.map((s) => settingRow(s, edits.get(s.key), refreshNotice));
        const editable = list.some((s) => edits.has(s.key));
        const count = editable ? `${list.filter((s) => edits.has(s.key)).length} you can change here, ${list.length} in all` : `${list.length}, set in the config file`;
        const el = h("details", { class: "settings-group", open: editable },
          h("summary", null, h("span", { class: "group-name" }, g), h("span", { class: "hint" }, count)),
          h("div", { class: "table-wrap", role: "region", "aria-label": `${g} settings`, tabindex: "0" },
            h("table", null, h("caption", { class: "sr-only" }, `Node settings: ${g}`),
              h("thead", null, h("tr", null, h("th", { scope: "col" }, "Setting"), h("th", { scope: "col" }, "Value"))),
              h("tbody", null, rows))));
        return { el, rows, editable };
      });
      replace(box, groups.map((g) => g.el));
      applyFilter();
    })
    .catch((err) => replace(box, h("p", { class: "error" }, explain(err))));

  root.append(
    h("section", { class: "card", "aria-labelledby": "cfg-title" },
      h("h2", { id: "cfg-title" }, "Node configuration"),
      h("p", { class: "muted", "data-testid": "settings-advice" },
        "The settings with a Save button are changed here: they are saved in the node's data directory and recorded in the audit log. The others are set in /etc/sovereign/config.json, an environment variable or a flag, and take effect at the next start; ",
        h("code", null, "sovereign config show"), " lists every value and where it comes from."),
      notice, field("Filter settings", filter), box),
  );
}

export function render(root, ctx) {
  const current = h("input", { type: "password", name: "currentPassword", autocomplete: "current-password", required: true });
  const next = h("input", { type: "password", name: "newPassword", autocomplete: "new-password", required: true, minlength: 10 });
  const again = h("input", { type: "password", name: "repeatPassword", autocomplete: "new-password", required: true, minlength: 10 });
  const pwStatus = statusLine();
  const pwForm = h("form", null, field("Current password", current), field("New password", next, "At least 10 characters. Other sessions are logged out."), field("Repeat new password", again), pwStatus, h("button", { type: "submit" }, "Change password"));
  pwForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (next.value !== again.value) {
      pwStatus.textContent = "The two new passwords differ.";
      return;
    }
    try {
      const r = await api(routes.password, { method: "POST", body: { currentPassword: current.value, newPassword: next.value } });
      // The node rotated this session; its new CSRF token comes back with the answer.
      if (r?.csrfToken) setCsrfToken(r.csrfToken);
      pwStatus.textContent = "Password changed.";
      pwForm.reset();
    } catch (err) {
      pwStatus.textContent = explain(err);
    }
  });

  root.append(h("h1", null, "Settings"));
  if (ctx.user.role === "admin") nodeSettings(root);
  root.append(h("section", { class: "card", "aria-labelledby": "acct-title" }, h("h2", { id: "acct-title" }, `Account: ${ctx.user.username}`), pwForm));
}
