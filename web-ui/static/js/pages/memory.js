import { h, replace, field, statusLine, fmtTime, toast } from "../h.js";
import { api, upload, explain } from "../api.js";

export const title = "Memory";

const PAGE = 20;
const routes = {
  search: (q) => `/api/memory/search?q=${encodeURIComponent(q)}&limit=${PAGE}`,
  browse: (beforeId) => `/api/memory?limit=${PAGE}${beforeId ? `&beforeId=${beforeId}` : ""}`,
  add: "/api/memory",
  // A document is posted as its own bytes (text/plain or text/markdown); the node splits and embeds it.
  upload: (name) => `/api/memory?source=${encodeURIComponent(name)}`,
  remove: (id) => `/api/memory/${encodeURIComponent(id)}`,
};

function memoryCard(m, onDelete, score) {
  const text = m.text ?? "";
  return h(
    "li",
    { class: "card" },
    h("div", { class: "row" }, h("strong", { class: "grow" }, m.source || "note", m.kind && m.kind !== "note" ? h("span", { class: "badge" }, m.kind) : null, (m.tags ?? []).map((t) => h("span", { class: "badge" }, t))), typeof score === "number" ? h("span", { class: "badge" }, `score ${score.toFixed(3)}`) : null, h("span", { class: "hint" }, fmtTime(m.createdAt))),
    h("p", null, text.length > 400 ? `${text.slice(0, 400)}…` : text),
    onDelete ? h("button", { type: "button", class: "danger small", onclick: () => onDelete(m) }, "Delete") : null,
  );
}

export function render(root) {
  const results = h("ul", { class: "plain", "aria-label": "Memories" });
  const status = statusLine();
  // Pages go back in time by id: each "Older" asks for memories before the last one shown.
  const pages = [undefined];

  const q = h("input", { type: "search", name: "q", required: true });
  const searchForm = h("form", { class: "inline", role: "search" }, field("Search memory", q), h("button", { type: "submit" }, "Search"));
  searchForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    status.textContent = "Searching…";
    try {
      const r = await api(routes.search(q.value.trim()));
      const hits = r.hits ?? [];
      replace(results, hits.map((hit) => memoryCard(hit.memory, remove, hit.score)));
      status.textContent = `${hits.length} result${hits.length === 1 ? "" : "s"} for “${q.value.trim()}” (${r.mode} search).`;
    } catch (err) {
      status.textContent = explain(err);
    }
  });

  async function browse(step = 0) {
    if (step > 0 && pages.length && lastIds.length) pages.push(lastIds[lastIds.length - 1]);
    if (step < 0 && pages.length > 1) pages.pop();
    if (step === 0) pages.splice(1);
    status.textContent = "Loading…";
    try {
      const r = await api(routes.browse(pages[pages.length - 1]));
      const items = r.memories ?? [];
      lastIds = items.map((m) => m.id);
      replace(results, items.map((m) => memoryCard(m, remove)));
      const total = r.stats?.memories ?? r.stats?.count;
      status.textContent = items.length ? `Showing ${items.length} ${pages.length > 1 ? "older " : ""}memories${typeof total === "number" ? ` of ${total}` : ""}.` : "No memories here yet.";
    } catch (err) {
      status.textContent = explain(err);
    }
  }
  let lastIds = [];

  async function remove(m) {
    if (!confirm("Delete this memory?")) return;
    try {
      await api(routes.remove(m.id), { method: "DELETE" });
      toast("Deleted.");
      void browse();
    } catch (err) {
      toast(explain(err), "error");
    }
  }

  const note = h("textarea", { name: "note", required: true, rows: 3 });
  const noteTags = h("input", { name: "tags" });
  const noteForm = h("form", null, field("Note", note), field("Tags (optional)", noteTags, "Comma-separated, e.g. home, garden"), h("button", { type: "submit" }, "Add note"));
  noteForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const tags = noteTags.value.split(",").map((t) => t.trim()).filter(Boolean);
      await api(routes.add, { method: "POST", body: { text: note.value, source: "note", ...(tags.length ? { tags } : {}) } });
      note.value = "";
      noteTags.value = "";
      toast("Note saved.");
      void browse();
    } catch (err) {
      toast(explain(err), "error");
    }
  });

  const file = h("input", { type: "file", name: "file", required: true, accept: ".txt,.md,.markdown,text/plain,text/markdown" });
  const progress = h("progress", { max: 1, value: 0, hidden: true, "aria-label": "Upload progress" });
  const docForm = h("form", null, field("Document", file, "Plain text or Markdown (UTF-8). It is split into passages and becomes searchable."), progress, h("button", { type: "submit" }, "Upload"));
  docForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = file.files?.[0];
    if (!f) return;
    progress.hidden = false;
    try {
      const type = /\.(md|markdown)$/i.test(f.name) ? "text/markdown" : "text/plain";
      await upload(routes.upload(f.name), f, { onProgress: (p) => (progress.value = p ?? 0), headers: { "content-type": type } });
      toast(`Uploaded ${f.name}.`);
      file.value = "";
      void browse();
    } catch (err) {
      toast(explain(err), "error");
    } finally {
      progress.hidden = true;
    }
  });

  root.append(
    h("h1", null, "Memory"),
    h("section", { class: "card", "aria-label": "Search" }, searchForm, h("div", { class: "row" }, h("button", { type: "button", class: "secondary small", onclick: () => browse(0) }, "Latest"), h("button", { type: "button", class: "secondary small", onclick: () => browse(-1) }, "Newer"), h("button", { type: "button", class: "secondary small", onclick: () => browse(1) }, "Older"))),
    status,
    results,
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "note-title" }, h("h2", { id: "note-title" }, "Add a note"), noteForm),
      h("section", { class: "card", "aria-labelledby": "doc-title" }, h("h2", { id: "doc-title" }, "Upload a document"), docForm)),
  );
  void browse();
}
