import { h, field, statusLine, replace, table } from "../h.js";
import { api, explain, setCsrfToken } from "../api.js";

export const title = "Settings";

const routes = { password: "/api/auth/password", settings: "/api/settings" };

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

  const configBox = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const filter = h("input", { type: "search", name: "filter", placeholder: "e.g. inference, port, memory" });
  let all = [];
  const show = (v) => (v === null || v === undefined ? "auto" : Array.isArray(v) ? v.join(", ") || "(none)" : String(v));
  const draw = () => {
    const q = filter.value.trim().toLowerCase();
    const rows = all.filter((x) => !q || x.key.toLowerCase().includes(q) || x.help.toLowerCase().includes(q));
    replace(configBox, table("Node settings", ["Setting", "Value", "Meaning"], rows.map((x) => [
      h("span", null, h("code", null, x.key), x.changed ? h("span", { class: "badge good" }, " set") : null),
      h("span", null, show(x.value), x.changed ? h("span", { class: "hint" }, `default: ${show(x.default)}`) : null),
      h("span", null, x.help, h("span", { class: "hint" }, h("code", null, x.env), " · ", h("code", null, x.flag))),
    ])));
  };
  filter.addEventListener("input", draw);
  if (ctx.user.role === "admin") {
    api(routes.settings)
      .then((r) => {
        all = r.settings ?? [];
        draw();
      })
      .catch((err) => replace(configBox, h("p", { class: "error" }, explain(err))));
  }

  root.append(
    h("h1", null, "Settings"),
    h("section", { class: "card", "aria-labelledby": "acct-title" }, h("h2", { id: "acct-title" }, `Account: ${ctx.user.username}`), pwForm),
    ctx.user.role === "admin" ? h("section", { class: "card", "aria-labelledby": "cfg-title" }, h("h2", { id: "cfg-title" }, "Node configuration"), h("p", { class: "muted" }, "Read-only here. Change a setting in /etc/sovereign/config.json, with its environment variable or flag, or with the `sovereign config` command, then restart the node."), field("Filter settings", filter), configBox) : null,
  );
}
