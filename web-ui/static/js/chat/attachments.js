// Attaching a document in the chat box: it goes into memory (the same ingest
// as the Memory page), so the answers in this chat can find and cite it.
import { h, replace, statusLine } from "../h.js";
import { upload, explain } from "../api.js";

const INGEST = (name) => `/api/memory?source=${encodeURIComponent(name)}`;

/** `onAttached({ name, documentId, chunks })` after the node has stored a document. */
export function attachments({ onAttached }) {
  const input = h("input", { type: "file", id: "chat-attach", name: "attach", class: "file-input", accept: ".txt,.md,.markdown,text/plain,text/markdown" });
  const button = h("label", { for: "chat-attach", class: "button secondary small" }, h("span", { "aria-hidden": "true" }, "+ "), "Attach a document");
  const progress = h("progress", { max: 1, value: 0, hidden: true, "aria-label": "Attaching" });
  const status = statusLine();
  const list = h("ul", { class: "chips attachments", "aria-label": "Documents in this chat" });
  const el = h("div", { class: "attach" }, h("div", { class: "row" }, input, button, list), progress, status);

  input.addEventListener("change", async () => {
    const f = input.files?.[0];
    if (!f) return;
    progress.hidden = false;
    progress.value = 0;
    status.textContent = `Reading ${f.name} into memory…`;
    try {
      const type = /\.(md|markdown)$/i.test(f.name) ? "text/markdown" : "text/plain";
      const r = await upload(INGEST(f.name), f, { onProgress: (p) => (progress.value = p ?? 0), headers: { "content-type": type } });
      status.textContent = `${f.name} is in memory (${r.chunks} passage${r.chunks === 1 ? "" : "s"}). Ask about it: answers cite it beside the text.`;
      await onAttached({ name: f.name, documentId: r.documentId, chunks: r.chunks });
    } catch (err) {
      status.textContent = `${f.name} was not attached: ${explain(err)}`;
    } finally {
      progress.hidden = true;
      input.value = "";
    }
  });

  function show(items = []) {
    replace(list, items.map((a) => h("li", { class: "chip", title: `${a.chunks} passage${a.chunks === 1 ? "" : "s"} in memory` }, a.name)));
  }

  return { el, show, clear: () => (status.textContent = "") };
}
