import { h, field, statusLine } from "../h.js";
import { explain } from "../api.js";
import { login } from "../session.js";

export const title = "Log in";

export function render(root, ctx) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const status = statusLine();
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit" }, "Log in");
  const form = h(
    "form",
    { "aria-labelledby": "login-title", novalidate: false },
    field("Username", username),
    field("Password", password),
    error,
    submit,
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    status.textContent = "Checking…";
    try {
      await login(username.value.trim(), password.value);
      status.textContent = "";
      await ctx.refreshSession();
    } catch (err) {
      status.textContent = "";
      error.textContent = explain(err);
      password.value = "";
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  root.append(h("section", { class: "card narrow" }, h("h1", { id: "login-title" }, "Log in"), ctx.notice ? h("p", { class: "notice", role: "status" }, ctx.notice) : null, form));
  username.focus();
}
