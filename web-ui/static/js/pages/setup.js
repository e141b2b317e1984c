import { h, field, statusLine } from "../h.js";
import { explain } from "../api.js";
import { claim, login } from "../session.js";

export const title = "Set up this node";

export function render(root, ctx) {
  const code = h("input", { name: "setupCode", autocomplete: "one-time-code", required: true, autocapitalize: "none", spellcheck: "false" });
  const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false", pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]{0,31}" });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 10 });
  const confirm = h("input", { name: "confirm", type: "password", autocomplete: "new-password", required: true, minlength: 10 });
  const error = h("p", { class: "error", role: "alert" });
  const status = statusLine();
  const submit = h("button", { type: "submit" }, "Claim this node");
  const form = h(
    "form",
    { "aria-labelledby": "setup-title" },
    field("Setup code", code, "Printed on the node's console and in its journal at first start (also in setup-code in the data folder)."),
    field("Admin username", username, "Letters, digits, '.', '_' or '-'."),
    field("Password", password, "At least 10 characters."),
    field("Repeat password", confirm),
    error,
    submit,
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    if (password.value !== confirm.value) {
      error.textContent = "The two passwords differ.";
      confirm.focus();
      return;
    }
    submit.disabled = true;
    status.textContent = "Claiming…";
    try {
      const r = await claim(code.value.trim(), username.value.trim(), password.value);
      // Some claims log in at once; otherwise log in with what was just chosen.
      if (!r?.csrfToken) await login(username.value.trim(), password.value);
      await ctx.refreshSession();
    } catch (err) {
      status.textContent = "";
      error.textContent = explain(err);
    } finally {
      submit.disabled = false;
    }
  });
  root.append(
    h(
      "section",
      { class: "card narrow" },
      h("h1", { id: "setup-title" }, "Set up this node"),
      h("p", null, "Nobody has claimed this node yet. Enter the one-time setup code and choose the admin account."),
      form,
    ),
  );
  code.focus();
}
