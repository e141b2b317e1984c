// The conversation list (with search) and the open conversation's header:
// rename, export (Markdown or JSON) and delete.
import { h, replace, fmtTime, toast } from "../h.js";
import { api, explain } from "../api.js";

export const convRoutes = {
  list: (q) => `/api/conversations?limit=50${q ? `&q=${encodeURIComponent(q)}` : ""}`,
  one: (id) => `/api/conversations/${encodeURIComponent(id)}`,
  export: (id, format) => `/api/conversations/${encodeURIComponent(id)}/export?format=${format}`,
};

/** The side list: newest first, filtered by a search over titles and message text. */
export function conversationList({ navigate, newChat }) {
  let current = null;
  let timer = null;
  const search = h("input", { type: "search", name: "q", id: "conv-search", autocomplete: "off", placeholder: "Title or words" });
  const list = h("ul", { "aria-label": "Conversations" });
  const el = h(
    "section",
    { class: "card conversations", "aria-labelledby": "conv-title" },
    h("div", { class: "row" }, h("h2", { id: "conv-title", class: "grow" }, "Conversations"), h("button", { type: "button", class: "secondary small", onclick: newChat }, "New chat")),
    h("div", { class: "field search" }, h("label", { for: "conv-search" }, "Search conversations"), search),
    list,
  );

  async function load() {
    const q = search.value.trim();
    try {
      const items = (await api(convRoutes.list(q))).conversations ?? [];
      replace(list, items.map((c) => h("li", null, h("button", { type: "button", "aria-current": String(c.id === current), onclick: () => navigate(`chat/${encodeURIComponent(c.id)}`) }, c.title || "Untitled", h("span", { class: "hint" }, fmtTime(c.updatedAt))))));
      if (!items.length) list.append(h("li", { class: "muted" }, q ? `No conversation mentions “${q}”.` : "No conversations yet."));
    } catch (err) {
      replace(list, h("li", { class: "error" }, explain(err)));
    }
  }
  search.addEventListener("input", () => {
    // Search as the person types, once they pause.
    clearTimeout(timer);
    timer = setTimeout(load, 250);
  });

  return { el, load, setCurrent: (id) => (current = id), stop: () => clearTimeout(timer) };
}

/** The open conversation's title and what can be done with it. */
export function conversationHeader(conv, { onChanged, onDeleted }) {
  const title = h("h2", { id: "chat-title", class: "grow" }, conv?.title ?? "New conversation");
  const head = h("div", { class: "row conv-head" }, title);
  if (!conv) return head;

  const rename = () => {
    const input = h("input", { name: "title", required: true, maxlength: "500", "aria-label": "New title" });
    input.value = conv.title;
    const form = h("form", { class: "inline grow" }, input, h("button", { type: "submit", class: "small" }, "Save title"), h("button", { type: "button", class: "secondary small", onclick: () => form.replaceWith(title) }, "Cancel"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const r = await api(convRoutes.one(conv.id), { method: "PATCH", body: { title: input.value } });
        conv.title = r.conversation.title;
        title.textContent = conv.title;
        form.replaceWith(title);
        toast("Renamed.");
        onChanged();
      } catch (err) {
        toast(explain(err), "error");
      }
    });
    title.replaceWith(form);
    input.select();
  };
  const remove = async () => {
    if (!confirm(`Delete the conversation “${conv.title}”? This cannot be undone.`)) return;
    try {
      await api(convRoutes.one(conv.id), { method: "DELETE" });
      toast("Conversation deleted.");
      onDeleted();
    } catch (err) {
      toast(explain(err), "error");
    }
  };
  head.append(
    h("div", { class: "row actions" },
      h("button", { type: "button", class: "secondary small", onclick: rename }, "Rename"),
      h("a", { class: "button secondary small", href: convRoutes.export(conv.id, "markdown"), download: "" }, "Export Markdown"),
      h("a", { class: "button secondary small", href: convRoutes.export(conv.id, "json"), download: "" }, "Export JSON"),
      h("button", { type: "button", class: "danger small", onclick: remove }, "Delete")),
  );
  return head;
}
