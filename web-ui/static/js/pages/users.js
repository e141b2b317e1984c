import { h, replace, field, table, fmtTime, toast } from "../h.js";
import { api, explain } from "../api.js";

export const title = "Users & keys";

const routes = {
  users: "/api/users",
  user: (id) => `/api/users/${encodeURIComponent(id)}`,
  keys: "/api/keys",
  key: (id) => `/api/keys/${encodeURIComponent(id)}`,
  quota: "/api/quotas",
};
const SCOPES = ["chat", "memory:read", "memory:write", "models", "metrics", "admin"];

function keysSection(user) {
  const box = h("div");
  const created = h("div", { role: "status", "aria-live": "polite" });
  const name = h("input", { name: "keyName", required: true, maxlength: 64 });
  const expires = h("select", { name: "expires" }, [["30", "30 days"], ["90", "90 days"], ["365", "1 year"], ["", "Never"]].map(([v, t]) => h("option", { value: v }, t)));
  const scopeBoxes = SCOPES.filter((s) => (user.scopes ?? SCOPES).includes(s)).map((s) => h("input", { type: "checkbox", name: "scope", value: s, id: `scope-${s.replace(":", "-")}`, checked: s === "chat" }));
  const form = h(
    "form",
    null,
    field("Key name", name, "So you recognise it later, e.g. “laptop script”."),
    h("fieldset", null, h("legend", null, "Scopes"), h("div", { class: "row" }, scopeBoxes.map((b) => h("span", null, b, " ", h("label", { for: b.id }, b.value))))),
    field("Expires", expires),
    h("button", { type: "submit" }, "Create key"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const scopes = scopeBoxes.filter((b) => b.checked).map((b) => b.value);
    if (!scopes.length) return toast("Pick at least one scope.", "error");
    try {
      const r = await api(routes.keys, { method: "POST", body: { name: name.value.trim(), scopes, ...(expires.value ? { expiresInDays: Number(expires.value) } : {}) } });
      const secret = r.key ?? r.secret ?? r.token;
      const copy = h("button", { type: "button", class: "secondary small", onclick: () => navigator.clipboard?.writeText(secret).then(() => toast("Copied.")) }, "Copy");
      replace(created, h("div", { class: "card" }, h("p", null, h("strong", null, "Copy this key now. It is shown only once.")), h("p", { class: "secret", "data-testid": "new-key" }, secret), copy));
      name.value = "";
      void refresh();
    } catch (err) {
      toast(explain(err), "error");
    }
  });

  async function refresh() {
    try {
      const data = await api(routes.keys);
      const keys = data.keys ?? data ?? [];
      replace(box, table("API keys", ["Name", "Prefix", "Scopes", "Expires", "Last used", ""], keys.map((k) => [
        k.name,
        h("code", null, k.prefix ?? "–"),
        (k.scopes ?? []).join(", "),
        k.expiresAt ? fmtTime(k.expiresAt) : "never",
        k.lastUsedAt ? fmtTime(k.lastUsedAt) : "never",
        k.revokedAt ? "revoked" : h("button", { type: "button", class: "danger small", "aria-label": `Revoke key ${k.name}`, onclick: () => revoke(k) }, "Revoke"),
      ])));
    } catch (err) {
      replace(box, h("p", { class: "error" }, explain(err)));
    }
  }
  async function revoke(k) {
    if (!confirm(`Revoke ${k.name}? Programs using it stop working.`)) return;
    try {
      await api(routes.key(k.id), { method: "DELETE" });
      void refresh();
    } catch (err) {
      toast(explain(err), "error");
    }
  }
  void refresh();
  return h("section", { class: "card", "aria-labelledby": "keys-title" }, h("h2", { id: "keys-title" }, "API keys"), h("p", { class: "muted" }, "Use a key as a Bearer token with any OpenAI client: base URL ", h("code", null, `${location.origin}/v1`), "."), box, created, form);
}

function quotaSection() {
  const box = h("div", null, h("p", { class: "muted" }, "Loading…"));
  api(routes.quota)
    .then((q) => {
      const windows = q.user ?? [];
      const line = (w) => [h("dt", null, w.window === "hour" ? "This hour" : w.window === "day" ? "Today" : w.window), h("dd", null, w.limit == null ? `${w.used ?? 0} tokens (no limit)` : `${w.used ?? 0} of ${w.limit} tokens`, w.resetsAt ? h("span", { class: "hint" }, `resets ${fmtTime(w.resetsAt)}`) : null)];
      replace(box, windows.length ? h("dl", { class: "facts" }, windows.map(line)) : h("p", { class: "muted" }, "No usage recorded."));
    })
    .catch((err) => replace(box, h("p", { class: "muted" }, explain(err))));
  return h("section", { class: "card", "aria-labelledby": "quota-title" }, h("h2", { id: "quota-title" }, "Your token quota"), box);
}

function usersSection(me) {
  const box = h("div");
  const username = h("input", { name: "newUsername", required: true, autocomplete: "off" });
  const password = h("input", { name: "newPassword", type: "password", required: true, minlength: 10, autocomplete: "new-password" });
  const role = h("select", { name: "role" }, ["user", "guest", "admin"].map((r) => h("option", { value: r }, r)));
  const form = h("form", null, h("div", { class: "grid" }, field("Username", username), field("Password", password, "At least 10 characters."), field("Role", role)), h("button", { type: "submit" }, "Add user"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api(routes.users, { method: "POST", body: { username: username.value.trim(), password: password.value, role: role.value } });
      toast(`Added ${username.value.trim()}.`);
      username.value = "";
      password.value = "";
      void refresh();
    } catch (err) {
      toast(explain(err), "error");
    }
  });
  async function refresh() {
    try {
      const data = await api(routes.users);
      const users = data.users ?? data ?? [];
      replace(box, table("Users", ["User", "Role", "Quota (hour / day)", "Created", ""], users.map((u) => [
        u.username,
        u.role,
        `${u.tokensPerHour ?? "∞"} / ${u.tokensPerDay ?? "∞"}`,
        fmtTime(u.createdAt),
        u.disabled ? "disabled" : u.username === me.username ? "you" : h("button", { type: "button", class: "danger small", "aria-label": `Disable ${u.username}`, onclick: () => disable(u) }, "Disable"),
      ])));
    } catch (err) {
      replace(box, h("p", { class: "error" }, explain(err)));
    }
  }
  async function disable(u) {
    if (!confirm(`Disable ${u.username}? Their sessions and keys stop working.`)) return;
    try {
      await api(routes.user(u.id), { method: "PATCH", body: { disabled: true } });
      void refresh();
    } catch (err) {
      toast(explain(err), "error");
    }
  }
  void refresh();
  return h("section", { class: "card", "aria-labelledby": "users-title" }, h("h2", { id: "users-title" }, "Users"), box, h("h3", null, "Add a user"), form);
}

export function render(root, ctx) {
  root.append(h("h1", null, "Users & API keys"), quotaSection(), keysSection(ctx.user), ctx.user.role === "admin" ? usersSection(ctx.user) : null);
}
