import { h, replace, field, statusLine, fmtBytes, table, toast } from "../h.js";
import { api, upload, explain } from "../api.js";

export const title = "Models";

const routes = {
  list: "/api/models",
  upload: "/api/models/upload",
  pull: "/api/models/pull",
  pullStatus: (id) => `/api/models/pulls/${encodeURIComponent(id)}`,
  setDefault: (id) => `/api/models/${encodeURIComponent(id)}/default`,
  verify: (id) => `/api/models/${encodeURIComponent(id)}/verify`,
  remove: (id) => `/api/models/${encodeURIComponent(id)}`,
};

export function render(root) {
  const listBox = h("div");
  const status = statusLine();
  let timers = [];

  async function refresh() {
    try {
      const data = await api(routes.list);
      const models = data.models ?? data.data ?? data ?? [];
      replace(
        listBox,
        table(
          "Models",
          ["Name", "Size", "Details", "Actions"],
          models.map((m) => {
            const id = m.id ?? m.name;
            return [
              h("span", null, m.name ?? id, m.default || m.isDefault ? h("span", { class: "badge good" }, " default") : null),
              fmtBytes(m.sizeBytes ?? m.size),
              [m.architecture, m.quantization, m.parameters ? `${m.parameters} params` : null, m.verified === true ? "verified" : null].filter(Boolean).join(" · ") || "–",
              h(
                "div",
                { class: "row" },
                h("button", { type: "button", class: "secondary small", disabled: Boolean(m.default || m.isDefault), onclick: () => act("Default set.", routes.setDefault(id), "POST"), "aria-label": `Make ${m.name ?? id} the default` }, "Set default"),
                h("button", { type: "button", class: "secondary small", onclick: () => verify(id), "aria-label": `Verify ${m.name ?? id}` }, "Verify"),
                h("button", { type: "button", class: "danger small", onclick: () => confirm(`Delete ${m.name ?? id}?`) && act("Deleted.", routes.remove(id), "DELETE"), "aria-label": `Delete ${m.name ?? id}` }, "Delete"),
              ),
            ];
          }),
        ),
      );
    } catch (err) {
      replace(listBox, h("p", { class: "error" }, explain(err)));
    }
  }

  async function act(done, path, method) {
    try {
      await api(path, { method });
      toast(done);
      void refresh();
    } catch (err) {
      toast(explain(err), "error");
    }
  }

  async function verify(id) {
    status.textContent = `Verifying ${id}…`;
    try {
      const r = await api(routes.verify(id), { method: "POST" });
      status.textContent = r?.ok === false ? `${id} failed verification: ${r.reason ?? r.message ?? "unknown reason"}` : `${id} verified${r?.sha256 ? ` (sha256 ${r.sha256.slice(0, 16)}…)` : ""}.`;
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

  // Pull from a URL (a mirror on the LAN): the node downloads, we poll its progress.
  const url = h("input", { type: "url", name: "url", required: true, placeholder: "http://mirror.lan/models/model.gguf" });
  const sha = h("input", { name: "sha256", pattern: "[0-9a-fA-F]{64}" });
  const pullProgress = h("progress", { max: 1, value: 0, "aria-label": "Download progress", hidden: true });
  const pullText = statusLine();
  const pullForm = h("form", null, field("Model URL", url), field("Expected SHA-256 (optional)", sha), pullProgress, pullText, h("button", { type: "submit" }, "Pull"));
  pullForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const job = await api(routes.pull, { method: "POST", body: { url: url.value.trim(), ...(sha.value.trim() ? { sha256: sha.value.trim().toLowerCase() } : {}) } });
      pullProgress.hidden = false;
      pullProgress.removeAttribute("value");
      pollPull(job.id ?? job.pullId);
    } catch (err) {
      pullText.textContent = explain(err);
    }
  });

  function pollPull(id) {
    const t = setInterval(async () => {
      try {
        const p = await api(routes.pullStatus(id));
        const total = p.totalBytes ?? p.total;
        const got = p.receivedBytes ?? p.downloadedBytes ?? p.received ?? 0;
        if (total) pullProgress.value = got / total;
        pullText.textContent = `${p.state ?? p.status ?? ""} ${fmtBytes(got)}${total ? ` of ${fmtBytes(total)}` : ""}`.trim();
        if (["done", "completed", "failed", "error", "cancelled"].includes(p.state ?? p.status)) {
          clearInterval(t);
          pullProgress.hidden = true;
          if (p.error) pullText.textContent = `Failed: ${p.error.message ?? p.error}`;
          void refresh();
        }
      } catch (err) {
        clearInterval(t);
        pullText.textContent = explain(err);
      }
    }, 1000);
    timers.push(t);
  }

  root.append(
    h("h1", null, "Models"),
    h("section", { class: "card", "aria-labelledby": "models-title" }, h("h2", { id: "models-title" }, "Installed"), listBox, status),
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "up-title" }, h("h2", { id: "up-title" }, "Upload"), upForm),
      h("section", { class: "card", "aria-labelledby": "pull-title" }, h("h2", { id: "pull-title" }, "Pull from a URL"), pullForm)),
  );
  void refresh();
  return () => timers.forEach(clearInterval);
}
