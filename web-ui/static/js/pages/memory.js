import { h, replace, field, statusLine, fmtTime, toast } from "../h.js";
import { api, upload, explain } from "../api.js";

export const title = "Memory";

const routes = {
  search: (q) => `/api/memory/search?q=${encodeURIComponent(q)}&limit=20`,
  browse: (offset) => `/api/memory?limit=20&offset=${offset}`,
  add: "/api/memory",
  upload: "/api/memory/documents",
  remove: (id) => `/api/memory/${encodeURIComponent(id)}`,
};

function itemsOf(data) {
  return data?.results ?? data?.items ?? data?.memories ?? (Array.isArray(data) ? data : []);
}

function memoryCard(m, onDelete) {
  const text = m.snippet ?? m.text ?? m.content ?? "";
  return h(
    "li",
    { class: "card" },
    h("div", { class: "row" }, h("strong", { class: "grow" }, m.title ?? m.source ?? m.kind ?? "Note"), typeof m.score === "number" ? h("span", { class: "badge" }, `score ${m.score.toFixed(2)}`) : null, h("span", { class: "hint" }, fmtTime(m.createdAt))),
    h("p", null, text.length > 400 ? `${text.slice(0, 400)}…` : text),
    onDelete ? h("button", { type: "button", class: "danger small", onclick: () => onDelete(m) }, "Delete") : null,
  );
}

export function render(root) {
  const results = h("ul", { class: "plain", "aria-label": "Memories" });
  const status = statusLine();
  let offset = 0;

  const q = h("input", { type: "search", name: "q", required: true });
  const searchForm = h("form", { class: "inline", role: "search" }, field("Search memory", q), h("button", { type: "submit" }, "Search"));
  searchForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    status.textContent = "Searching…";
    try {
      const items = itemsOf(await api(routes.search(q.value.trim())));
      replace(results, items.map((m) => memoryCard(m, remove)));
      status.textContent = `${items.length} result${items.length === 1 ? "" : "s"} for “${q.value.trim()}”.`;
    } catch (err) {
      status.textContent = explain(err);
    }
  });

  async function browse(delta = 0) {
    offset = Math.max(0, offset + delta);
    status.textContent = "Loading…";
    try {
      const items = itemsOf(await api(routes.browse(offset)));
      replace(results, items.map((m) => memoryCard(m, remove)));
      status.textContent = items.length ? `Showing ${offset + 1}–${offset + items.length}.` : "No memories here.";
    } catch (err) {
      status.textContent = explain(err);
    }
  }

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
  const noteTitle = h("input", { name: "title" });
  const noteForm = h("form", null, field("Title (optional)", noteTitle), field("Note", note), h("button", { type: "submit" }, "Add note"));
  noteForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api(routes.add, { method: "POST", body: { text: note.value, ...(noteTitle.value.trim() ? { title: noteTitle.value.trim() } : {}) } });
      note.value = "";
      noteTitle.value = "";
      toast("Note saved.");
      offset = 0;
      void browse();
    } catch (err) {
      toast(explain(err), "error");
    }
  });

  const file = h("input", { type: "file", name: "file", required: true, accept: ".txt,.md,.markdown,.html,.pdf,.json,.csv,text/*" });
  const progress = h("progress", { max: 1, value: 0, hidden: true, "aria-label": "Upload progress" });
  const docForm = h("form", null, field("Document", file, "Text, Markdown, HTML or PDF. It is split, embedded and searchable when done."), progress, h("button", { type: "submit" }, "Upload"));
  docForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = file.files?.[0];
    if (!f) return;
    const fd = new FormData();
    fd.append("file", f, f.name);
    progress.hidden = false;
    try {
      await upload(routes.upload, fd, { onProgress: (p) => (progress.value = p ?? 0) });
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
    h("section", { class: "card", "aria-label": "Search" }, searchForm, h("div", { class: "row" }, h("button", { type: "button", class: "secondary small", onclick: () => browse(-20) }, "Newer"), h("button", { type: "button", class: "secondary small", onclick: () => browse(20) }, "Older"), h("button", { type: "button", class: "secondary small", onclick: () => { offset = 0; void browse(); } }, "Browse all"))),
    status,
    results,
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "note-title" }, h("h2", { id: "note-title" }, "Add a note"), noteForm),
      h("section", { class: "card", "aria-labelledby": "doc-title" }, h("h2", { id: "doc-title" }, "Upload a document"), docForm)),
  );
  void browse();
}
