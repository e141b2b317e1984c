import { h, replace, field, statusLine, fmtBytes, table, toast } from "../h.js";
import { api, upload, explain } from "../api.js";

export const title = "Models";

const routes = {
  list: "/api/models",
  upload: "/api/models/upload",
  pull: "/api/models/pull",
  // The default chat model answers requests naming no model (unless the config pins inference.defaultModel).
  setDefault: "/api/models/default",
  verify: "/api/models/verify",
  remove: (name) => `/api/models/${encodeURIComponent(name)}`,
};

export function render(root) {
  const listBox = h("div");
  const status = statusLine();

  async function refresh() {
    try {
      const data = await api(routes.list);
      const models = data.models ?? [];
      const active = data.default ?? null;
      const loaded = data.status?.loaded?.name ?? null;
      const chosen = data.defaultChosen ?? null;
      replace(
        listBox,
        table(
          "Models",
          ["Name", "Kind", "Size", "Details", "Actions"],
          models.map((m) => [
            h("span", null, m.name, m.name === active ? h("span", { class: "badge good" }, m.name === loaded ? "default (loaded)" : "default") : null),
            m.kind === "llm" ? "chat" : m.kind,
            fmtBytes(m.size),
            [m.architecture, m.quantization, m.parameters ? `${(m.parameters / 1e6).toFixed(1)} M params` : null, m.contextLength ? `ctx ${m.contextLength}` : null].filter(Boolean).join(" · ") || "–",
            h(
              "div",
              { class: "row" },
              m.kind === "llm" ? h("button", { type: "button", class: "secondary small", disabled: m.name === chosen && m.name === loaded, onclick: () => act(`${m.name} is now the default: it answers requests that name no model, also after a restart.`, routes.setDefault, "PUT", { name: m.name }), "aria-label": `Set default: ${m.name}` }, "Set default") : null,
              h("button", { type: "button", class: "secondary small", onclick: () => verify(m.name), "aria-label": `Verify ${m.name}` }, "Verify"),
              h("button", { type: "button", class: "danger small", onclick: () => confirm(`Delete ${m.name}?`) && act("Deleted.", routes.remove(m.name), "DELETE"), "aria-label": `Delete ${m.name}` }, "Delete"),
            ),
          ]),
        ),
      );
    } catch (err) {
      replace(listBox, h("p", { class: "error" }, explain(err)));
    }
  }

  async function act(done, path, method, body) {
    try {
      await api(path, body === undefined ? { method } : { method, body });
      toast(done);
      void refresh();
    } catch (err) {
      toast(explain(err), "error");
    }
  }

  async function verify(name) {
    status.textContent = `Verifying ${name} (reading the whole file)…`;
    try {
      const r = await api(routes.verify, { method: "POST", body: { name } });
      const res = r.results?.[0];
      status.textContent = r.ok ? `${name}: checksum and format verified.` : `${name} failed verification: ${res?.problem ?? "unknown problem"}`;
    } catch (err) {
      status.textContent = explain(err);
    }
  }

  // Upload a GGUF from this computer.
  const file = h("input", { type: "file", name: "model", accept: ".gguf", required: true });
  const upProgress = h("progress", { max: 1, value: 0, "aria-label": "Upload progress", hidden: true });
  const upText = statusLine();
  const upForm = h("form", null, field("GGUF file", file), upProgress, upText, h("button", { type: "submit" }, "Upload"));
  upForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = file.files?.[0];
    if (!f) return;
    const fd = new FormData();
    fd.append("file", f, f.name);
    upProgress.hidden = false;
    try {
      await upload(routes.upload, fd, {
        onProgress: (p, loaded) => {
          upProgress.value = p ?? 0;
          upText.textContent = `${fmtBytes(loaded)} of ${fmtBytes(f.size)}`;
        },
      });
      upText.textContent = `Uploaded ${f.name}.`;
      file.value = "";
      void refresh();
    } catch (err) {
      upText.textContent = explain(err);
    } finally {
      upProgress.hidden = true;
    }
  });

  // Pull from a URL (a mirror on the LAN). The node downloads, checks the
  // SHA-256 and installs; the bar runs until it answers.
  const url = h("input", { type: "url", name: "url", required: true, placeholder: "http://mirror.lan/models/model.gguf" });
  const sha = h("input", { name: "sha256", required: true, pattern: "[0-9a-fA-F]{64}", autocomplete: "off", spellcheck: "false" });
  const pullProgress = h("progress", { "aria-label": "Download progress", hidden: true });
  const pullText = statusLine();
  const pullBtn = h("button", { type: "submit" }, "Pull");
  const pullForm = h("form", null, field("Model URL", url), field("Expected SHA-256", sha, "64 hex digits; the download is refused if it differs."), pullProgress, pullText, pullBtn);
  pullForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    pullProgress.hidden = false;
    pullProgress.removeAttribute("value");
    pullBtn.disabled = true;
    pullText.textContent = "Downloading…";
    try {
      const entry = await api(routes.pull, { method: "POST", body: { url: url.value.trim(), sha256: sha.value.trim().toLowerCase() } });
      pullProgress.value = 1;
      pullText.textContent = `Installed ${entry.name} (${fmtBytes(entry.size)}).`;
      pullForm.reset();
      void refresh();
    } catch (err) {
      pullText.textContent = explain(err);
    } finally {
      pullProgress.hidden = true;
      pullBtn.disabled = false;
    }
  });
  // The inference service publishes pull progress on the live channel.
  const events = new EventSource("/api/events");
  events.addEventListener("model-pull", (e) => {
    const p = JSON.parse(e.data);
    if (p.total) pullProgress.value = p.received / p.total;
    pullText.textContent = `Downloading… ${fmtBytes(p.received)}${p.total ? ` of ${fmtBytes(p.total)}` : ""}`;
  });

  root.append(
    h("h1", null, "Models"),
    h("section", { class: "card", "aria-labelledby": "models-title" }, h("h2", { id: "models-title" }, "Installed"), listBox, status),
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "up-title" }, h("h2", { id: "up-title" }, "Upload"), upForm),
      h("section", { class: "card", "aria-labelledby": "pull-title" }, h("h2", { id: "pull-title" }, "Pull from a URL"), pullForm)),
  );
  void refresh();
  return () => events.close();
}
