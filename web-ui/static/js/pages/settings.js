import { h, field, statusLine, replace } from "../h.js";
import { api, explain } from "../api.js";

export const title = "Settings";

const routes = { password: "/api/auth/password", config: "/api/config" };

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
      await api(routes.password, { method: "POST", body: { currentPassword: current.value, newPassword: next.value } });
      pwStatus.textContent = "Password changed.";
      pwForm.reset();
    } catch (err) {
      pwStatus.textContent = explain(err);
    }
  });

  const configBox = h("div", null, h("p", { class: "muted" }, "Loading…"));
  if (ctx.user.role === "admin") {
    api(routes.config)
      .then((c) => {
        const entries = Object.entries(c.config ?? c).filter(([, v]) => typeof v !== "object" || v === null || Array.isArray(v));
        replace(configBox, h("dl", { class: "facts" }, entries.map(([k, v]) => [h("dt", null, k), h("dd", null, Array.isArray(v) ? v.join(", ") || "(none)" : String(v ?? "auto"))])));
      })
      .catch((err) => replace(configBox, h("p", { class: "muted" }, `The node's configuration is not available here (${explain(err)}). Settings live in /etc/sovereign/config.json and are changed with \`sovereign config\`.`)));
  }

  root.append(
    h("h1", null, "Settings"),
    h("section", { class: "card", "aria-labelledby": "acct-title" }, h("h2", { id: "acct-title" }, `Account: ${ctx.user.username}`), pwForm),
    ctx.user.role === "admin" ? h("section", { class: "card", "aria-labelledby": "cfg-title" }, h("h2", { id: "cfg-title" }, "Node configuration"), h("p", { class: "muted" }, "Read-only here; change it with `sovereign config set` or in /etc/sovereign/config.json, then restart."), configBox) : null,
  );
}
