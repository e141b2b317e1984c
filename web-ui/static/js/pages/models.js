import { h, replace, field, statusLine, fmtBytes, fmtTime, table, toast } from "../h.js";
import { api, upload, explain } from "../api.js";

export const title = "Models";

const routes = {
  list: "/api/models",
  upload: (kind) => `/api/models/upload${kind ? `?kind=${kind}` : ""}`,
  pull: "/api/models/pull",
  // The default chat model answers requests naming no model (unless the config pins inference.defaultModel).
  setDefault: "/api/models/default",
  verify: "/api/models/verify",
  load: (name) => `/api/models/${encodeURIComponent(name)}/load`,
  // Lifts a quarantine (and loads a chat model at once; one that crashes again is quarantined again).
  retry: (name) => `/api/models/${encodeURIComponent(name)}/retry`,
  remove: (name) => `/api/models/${encodeURIComponent(name)}`,
};

/**
 * Where a model is now, like `ollama ps`: loaded (and the memory it takes),
 * not loaded, or quarantined with the reason. Runners (when the node runs
 * models in their own processes) report their resident memory; otherwise a
 * loaded model's weights take about its file size (they are memory-mapped).
 */
export function modelState(m, status) {
  const q = m.quarantine ?? m.quarantined;
  if (q) return { key: "quarantined", text: "Quarantined", detail: `${q.reason ?? "it crashed its runner"}${q.at ? ` (since ${fmtTime(q.at)})` : ""}` };
  const runner = (status?.runners ?? []).find((r) => r.model === m.name);
  const loaded = status?.loaded?.name === m.name ? status.loaded : null;
  const embedding = (status?.embeddingsLoaded ?? []).includes(m.name);
  if (!runner && !loaded && !embedding) return { key: "idle", text: "Not loaded", detail: "loads when first used" };
  const bytes = runner?.rssBytes ?? loaded?.memoryBytes ?? null;
  const memory = bytes ? `${fmtBytes(bytes)} in memory` : `about ${fmtBytes(m.size)} in memory (its file, mapped)`;
  const since = loaded?.loadedAt ? `since ${fmtTime(loaded.loadedAt)}` : null;
  const ctx = loaded?.contextSize ? `context ${loaded.contextSize}` : null;
  return { key: "loaded", text: "Loaded", detail: [memory, ctx, since].filter(Boolean).join(" · ") };
}

function kindSelect(id) {
  return h("select", { name: "kind", id }, h("option", { value: "" }, "Tell from the file"), h("option", { value: "llm" }, "Chat model"), h("option", { value: "embedding" }, "Embedding model (search by meaning)"));
}

export function render(root) {
  const listBox = h("div");
  const status = statusLine();
  // Loading, switching and verifying take seconds to minutes: the bar says the node is at it.
  const busy = h("progress", { "aria-label": "Working on the model", hidden: true });

  async function refresh() {
    try {
      const data = await api(routes.list);
      const models = data.models ?? [];
      const active = data.default ?? null;
      const loaded = data.status?.loaded?.name ?? null;
      const chosen = data.defaultChosen ?? null;
      if (!models.length) {
        replace(listBox, h("div", { class: "notice" },
          h("p", null, h("strong", null, "No models yet."), " Upload a GGUF file below, or pull one from a URL on your network."),
          h("p", null, "A chat model answers in Chat; an embedding model lets Memory search by meaning, not only by words.")));
        return;
      }
      replace(
        listBox,
        table(
          "Models",
          ["Name", "Kind", "Size", "State", "Details", "Actions"],
          models.map((m) => {
            const state = modelState(m, data.status);
            return [
              h("span", null, m.name, m.name === active ? h("span", { class: "badge good" }, m.name === loaded ? "default (loaded)" : "default") : null),
              m.kind === "llm" ? "chat" : m.kind,
              h("span", { class: "nowrap" }, fmtBytes(m.size)),
              h("span", { class: `state ${state.key}` }, h("span", { class: `badge${state.key === "loaded" ? " good" : state.key === "quarantined" ? " bad" : ""}` }, state.text), h("span", { class: "hint" }, state.detail)),
              [m.architecture, m.quantization, m.parameters ? `${(m.parameters / 1e6).toFixed(1)} M params` : null, m.contextLength ? `ctx ${m.contextLength}` : null].filter(Boolean).join(" · ") || "–",
              h(
                "div",
                { class: "row" },
                m.kind === "llm" && state.key !== "quarantined" ? h("button", { type: "button", class: "secondary small", disabled: m.name === chosen && m.name === loaded, onclick: () => act(`Loading ${m.name}…`, `${m.name} is now the default: it answers requests that name no model, also after a restart.`, routes.setDefault, "PUT", { name: m.name }), "aria-label": `Set default: ${m.name}` }, "Set default") : null,
                state.key === "quarantined" ? h("button", { type: "button", class: "secondary small", onclick: () => act(`Trying ${m.name} again…`, `${m.name} is out of quarantine.`, routes.retry(m.name), "POST"), "aria-label": `Retry ${m.name}` }, "Retry") : null,
                m.kind === "llm" && state.key === "idle" ? h("button", { type: "button", class: "secondary small", onclick: () => act(`Loading ${m.name}…`, `${m.name} is loaded.`, routes.load(m.name), "POST"), "aria-label": `Load ${m.name}` }, "Load") : null,
                h("button", { type: "button", class: "secondary small", onclick: () => verify(m.name), "aria-label": `Verify ${m.name}` }, "Verify"),
                h("button", { type: "button", class: "danger small", onclick: () => confirm(`Delete ${m.name}?`) && act(`Deleting ${m.name}…`, "Deleted.", routes.remove(m.name), "DELETE"), "aria-label": `Delete ${m.name}` }, "Delete"),
              ),
            ];
          }),
        ),
      );
    } catch (err) {
      replace(listBox, h("p", { class: "error" }, explain(err)));
    }
  }

  async function working(text, fn) {
    busy.hidden = false;
    status.textContent = text;
    try {
      return await fn();
    } finally {
      busy.hidden = true;
    }
  }

  async function act(doing, done, path, method, body) {
    try {
      await working(doing, () => api(path, body === undefined ? { method } : { method, body }));
      status.textContent = "";
      toast(done);
    } catch (err) {
      status.textContent = "";
      toast(explain(err), "error");
    }
    void refresh();
  }

  async function verify(name) {
    try {
      const r = await working(`Verifying ${name} (reading the whole file)…`, () => api(routes.verify, { method: "POST", body: { name } }));
      const res = r.results?.[0];
      status.textContent = r.ok ? `${name}: checksum and format verified.` : `${name} failed verification: ${res?.problem ?? "unknown problem"}`;
    } catch (err) {
      status.textContent = explain(err);
    }
  }

  // Upload a GGUF from this computer.
  const file = h("input", { type: "file", name: "model", accept: ".gguf", required: true });
  const upKind = kindSelect("upload-kind");
  const upProgress = h("progress", { max: 1, value: 0, "aria-label": "Upload progress", hidden: true });
  const upText = statusLine();
  const upForm = h("form", null, field("GGUF file", file), field("Kind", upKind), upProgress, upText, h("button", { type: "submit" }, "Upload"));
  upForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = file.files?.[0];
    if (!f) return;
    const fd = new FormData();
    fd.append("file", f, f.name);
    upProgress.hidden = false;
    upProgress.value = 0;
    try {
      await upload(routes.upload(upKind.value), fd, {
        onProgress: (p, loaded) => {
          upProgress.value = p ?? 0;
          // The last bytes are followed by the node's check of the whole file.
          upText.textContent = p === 1 ? `Checking ${f.name}…` : `${fmtBytes(loaded)} of ${fmtBytes(f.size)}`;
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
  // SHA-256 and installs; the bar follows the download on the live channel.
  const url = h("input", { type: "url", name: "url", required: true, placeholder: "http://mirror.lan/models/model.gguf" });
  const sha = h("input", { name: "sha256", required: true, pattern: "[0-9a-fA-F]{64}", autocomplete: "off", spellcheck: "false" });
  const pullKind = kindSelect("pull-kind");
  const pullProgress = h("progress", { "aria-label": "Download progress", hidden: true });
  const pullText = statusLine();
  const pullBtn = h("button", { type: "submit" }, "Pull");
  const pullForm = h("form", null, field("Model URL", url), field("Expected SHA-256", sha, "64 hex digits; the download is refused if it differs."), field("Kind", pullKind), pullProgress, pullText, pullBtn);
  pullForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    pullProgress.hidden = false;
    pullProgress.removeAttribute("value");
    pullBtn.disabled = true;
    pullText.textContent = "Downloading…";
    try {
      const entry = await api(routes.pull, { method: "POST", body: { url: url.value.trim(), sha256: sha.value.trim().toLowerCase(), ...(pullKind.value ? { kind: pullKind.value } : {}) } });
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
    pullText.textContent = `Downloading… ${fmtBytes(p.received)}${p.total ? ` of ${fmtBytes(p.total)} (${Math.floor((100 * p.received) / p.total)}%)` : ""}`;
  });

  root.append(
    h("h1", null, "Models"),
    h("section", { class: "card", "aria-labelledby": "models-title" }, h("h2", { id: "models-title" }, "Installed"), listBox, busy, status),
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "up-title" }, h("h2", { id: "up-title" }, "Upload"), upForm),
      h("section", { class: "card", "aria-labelledby": "pull-title" }, h("h2", { id: "pull-title" }, "Pull from a URL"), pullForm)),
  );
  void refresh();
  return () => events.close();
}
