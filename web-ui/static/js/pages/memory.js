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

// Words too common to tell memories apart; left out when counting which words a memory holds.
const STOP = new Set("a an and are as at be by do does for from how i in is it its me my of on or our so that the this to was we were what when where which who why will with you your".split(" "));

/** The words of a query a person would expect to be matched (lower case, no duplicates). */
export function queryWords(q) {
  return [...new Set((q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => w.length > 1 && !STOP.has(w)))];
}

/**
 * Relevance in words a person reads, from what the search reports: how many
 * of the query's words the memory holds and, when search by meaning ran, how
 * close in meaning it is (cosine similarity). The fused score is only a rank.
 */
export function relevance(hit, words) {
  const text = (hit.memory?.text ?? "").toLowerCase();
  const found = words.filter((w) => text.includes(w)).length;
  const cover = words.length ? found / words.length : 0;
  const sim = typeof hit.similarity === "number" ? hit.similarity : null;
  const level = Math.max(cover >= 0.75 ? 2 : cover >= 0.4 ? 1 : 0, sim === null ? 0 : sim >= 0.7 ? 2 : sim >= 0.5 ? 1 : 0);
  const why = [found ? `${found} of ${words.length} word${words.length === 1 ? "" : "s"}` : null, sim !== null && hit.vectorRank ? "close in meaning" : null].filter(Boolean).join(", ");
  return { label: ["Weak match", "Good match", "Strong match"][level], level, why };
}

const MODES = { fts: "words", vector: "meaning", hybrid: "words and meaning" };

function memoryCard(m, onDelete, match) {
  const text = m.text ?? "";
  return h(
    "li",
    { class: "card" },
    h("div", { class: "row" }, h("strong", { class: "grow" }, m.source || "note", m.kind && m.kind !== "note" ? h("span", { class: "badge" }, m.kind) : null, (m.tags ?? []).map((t) => h("span", { class: "badge" }, t))), match ? h("span", { class: `badge relevance${match.level === 2 ? " good" : ""}` }, match.label, match.why ? h("span", { class: "why" }, ` · ${match.why}`) : null) : null, h("span", { class: "hint" }, fmtTime(m.createdAt))),
    h("p", null, text.length > 400 ? `${text.slice(0, 400)}…` : text),
    onDelete ? h("button", { type: "button", class: "danger small", onclick: () => onDelete(m) }, "Delete") : null,
  );
}

export function render(root, ctx) {
  const results = h("ul", { class: "plain", "aria-label": "Memories" });
  const status = statusLine();
  // Says what a search looked at (words, meaning or both) and, when meaning was left out, why.
  const searched = h("div", { class: "notice searched", hidden: true });
  // Pages go back in time by id: each "Older" asks for memories before the last one shown.
  const pages = [undefined];

  const q = h("input", { type: "search", name: "q", required: true });
  const searchForm = h("form", { class: "inline", role: "search" }, field("Search memory", q), h("button", { type: "submit" }, "Search"));
  searchForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    status.textContent = "Searching…";
    const query = q.value.trim();
    try {
      const r = await api(routes.search(query));
      const hits = r.hits ?? [];
      const words = queryWords(query);
      replace(results, hits.map((hit) => memoryCard(hit.memory, remove, relevance(hit, words))));
      status.textContent = `${hits.length} result${hits.length === 1 ? "" : "s"} for “${query}”, best first.`;
      showSearched(r.mode, r.vectorModel);
    } catch (err) {
      searched.hidden = true;
      status.textContent = explain(err);
    }
  });

  function showSearched(mode, vectorModel) {
    const what = MODES[mode] ?? mode;
    searched.hidden = false;
    if (mode !== "fts") {
      replace(searched, h("p", null, h("strong", null, `Searched by ${what}.`), ` Search by meaning uses the embedding model ${String(vectorModel ?? "").replace(/@[0-9a-f]+$/, "")}, so a memory can match without sharing your words.`));
      return;
    }
    const admin = ctx?.user?.role === "admin";
    replace(
      searched,
      h("p", null, h("strong", null, "Searched by words only."), " Search by meaning (finding memories that say the same thing in other words) needs an embedding model, and none is ready on this node yet."),
      admin
        ? h("p", null, h("a", { href: "#/models" }, "Add an embedding model on the Models page"), " (upload or pull one, kind “embedding”); memories already stored are then indexed by meaning too.")
        : h("p", null, "An admin of this node can add one on the Models page."),
    );
  }

  async function browse(step = 0) {
    searched.hidden = true;
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
    searched,
    results,
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "note-title" }, h("h2", { id: "note-title" }, "Add a note"), noteForm),
      h("section", { class: "card", "aria-labelledby": "doc-title" }, h("h2", { id: "doc-title" }, "Upload a document"), docForm)),
  );
  void browse();
}
