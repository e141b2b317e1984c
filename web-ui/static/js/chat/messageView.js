// One chat turn on screen: the bubble (answers as sanitized Markdown), its
// sources beside it, and what can be done with it (copy, regenerate, continue,
// edit and resend, feedback).
import { h, replace, field, toast } from "../h.js";
import { api, explain } from "../api.js";
import { renderMarkdown, copyButton } from "../markdown.js";

const FEEDBACK = "/api/memory/feedback";
const MEMORY = (id) => `/api/memory/${encodeURIComponent(id)}`;

// The node names the memories it put in the prompt (by id); their text is fetched once each.
const memoryCache = new Map();
export function citedMemories(ids) {
  if (!Array.isArray(ids) || ids.length === 0) return Promise.resolve([]);
  return Promise.all(
    ids.slice(0, 12).map((id) => {
      if (!memoryCache.has(id)) memoryCache.set(id, api(MEMORY(id)).then((r) => r.memory, () => ({ id, source: "memory", text: "(no longer in memory)" })));
      return memoryCache.get(id).then((memory) => ({ memory }));
    }),
  );
}

const short = (t, n) => (t.length > n ? `${t.slice(0, n)}…` : t);
const sourceName = (m) => (m.kind === "correction" ? "your correction" : m.source || "note");

/** Sources of an answer, beside it: the documents' names at a glance, the passages one click away. */
function sourcesAside(hits) {
  if (!hits?.length) return null;
  const names = [...new Set(hits.map(({ memory }) => sourceName(memory)))];
  const list = h("ol", null, hits.map(({ memory: m }, i) =>
    h("li", { tabindex: "-1", "data-cite": String(i + 1) }, h("strong", null, sourceName(m)), h("span", { class: "muted" }, `: ${short(m.text ?? "", 200)}`))));
  return h(
    "aside",
    { class: "sources", "aria-label": "Sources of this answer" },
    h("p", { class: "sources-title", "aria-hidden": "true" }, "Sources"),
    h("ul", { class: "chips", "aria-label": "Documents and notes used" }, names.map((n) => h("li", { class: "chip", title: n }, short(n, 40)))),
    h("details", { class: "citations" }, h("summary", null, `From memory (${hits.length})`), list),
  );
}

/** A "[m12]" the model wrote becomes a numbered mark that opens the passage it cites. */
function citeMarker(hits, aside) {
  return (id) => {
    const i = hits?.findIndex(({ memory }) => memory.id === id) ?? -1;
    if (i < 0 || !aside) return null;
    const n = i + 1;
    return h("button", {
      type: "button", class: "cite", "aria-label": `Source ${n}: ${sourceName(hits[i].memory)}`,
      onclick: () => {
        const details = aside.querySelector("details");
        details.open = true;
        details.querySelector(`[data-cite="${n}"]`)?.focus();
      },
    }, String(n));
  };
}

function feedbackControls(conversationId, question, message) {
  if (!question || !message.content) return null;
  const box = h("div", { class: "feedback" });
  const send = async (rating, correction) => {
    try {
      await api(FEEDBACK, {
        method: "POST",
        body: { question, answer: message.content, rating, ...(correction ? { correction } : {}), ...(conversationId ? { conversationId } : {}), ...(Number.isInteger(message.id) ? { messageId: message.id } : {}) },
      });
      replace(box, h("span", { class: "ok", role: "status" }, rating === "up" ? "Thanks: marked helpful." : correction ? "Thanks: the correction is now in memory." : "Thanks: marked unhelpful."));
    } catch (err) {
      toast(explain(err), "error");
    }
  };
  const down = () => {
    const input = h("textarea", { name: "correction", rows: 2 });
    const form = h("form", { class: "inline" }, field("What should the answer have been? (optional)", input), h("button", { type: "submit", class: "small" }, "Send feedback"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void send("down", input.value.trim());
    });
    replace(box, form);
    input.focus();
  };
  box.append(
    h("button", { type: "button", class: "secondary small", onclick: () => send("up") }, h("span", { "aria-hidden": "true" }, "▲ "), "Helpful"),
    h("button", { type: "button", class: "secondary small", onclick: down }, h("span", { "aria-hidden": "true" }, "▼ "), "Not helpful"),
  );
  return box;
}

/** Fills an answer's body with its Markdown (also while it streams in). */
export function renderAnswer(body, text, hits = null, aside = null) {
  replace(body, renderMarkdown(text, { cite: citeMarker(hits, aside) }));
}

function editForm(m, bubble, onSend) {
  const input = h("textarea", { name: "edit", rows: 3 });
  input.value = m.content;
  const form = h("form", { class: "edit" }, field("Edit your message", input), h("div", { class: "row" },
    h("button", { type: "submit", class: "small" }, "Send edited"),
    h("button", { type: "button", class: "secondary small", onclick: () => form.replaceWith(bubble) }, "Cancel")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (text) onSend(text);
  });
  bubble.replaceWith(form);
  input.focus();
}

/**
 * A turn: `m` is { id?, role, content, meta?, citations? }. `opts.last` marks
 * the newest answer (the one that can be regenerated or continued);
 * `opts.actions` holds regenerate(m), continueAnswer(m) and edit(m, text);
 * `opts.streaming` renders a bare bubble whose body the caller fills.
 */
export function messageView(m, { conversationId = null, question = null, last = false, streaming = false, actions = {} } = {}) {
  const who = m.role === "user" ? "You" : ["Assistant", m.meta?.model, m.meta?.node ? `answered by ${m.meta.node}` : null].filter(Boolean).join(" · ");
  const body = h(m.role === "user" ? "span" : "div", { class: m.role === "user" ? "body" : "body md" });
  const bubble = h("div", { class: `msg ${m.role}` }, h("span", { class: "meta" }, who), body);
  const turn = h("div", { class: `turn ${m.role}`, "data-id": Number.isInteger(m.id) ? String(m.id) : null }, bubble);
  if (m.role === "user") {
    body.textContent = m.content ?? "";
    if (streaming) return turn;
    const row = h("div", { class: "msg-actions" });
    if (actions.edit && Number.isInteger(m.id)) row.append(h("button", { type: "button", class: "secondary small", onclick: () => editForm(m, turn, (text) => actions.edit(m, text)) }, "Edit"));
    // A question left without an answer (stopped, or the node failed) can be sent again.
    if (last && actions.regenerate) row.append(h("button", { type: "button", class: "secondary small", onclick: () => actions.regenerate(m) }, "Send again"));
    if (row.childElementCount) turn.append(row);
    return turn;
  }
  const aside = streaming ? null : sourcesAside(m.citations);
  renderAnswer(body, m.content ?? "", m.citations, aside);
  if (streaming) return turn;
  if (m.meta?.aborted) bubble.append(h("p", { class: "hint" }, "Stopped before the end."));
  else if (m.meta?.finishReason === "length") bubble.append(h("p", { class: "hint" }, "The answer reached its length limit."));
  const row = h("div", { class: "msg-actions" });
  if (m.content) row.append(copyButton(() => m.content, "Copy answer"));
  if (last && actions.regenerate) row.append(h("button", { type: "button", class: "secondary small", onclick: () => actions.regenerate(m) }, "Regenerate"));
  if (last && actions.continueAnswer && m.content) row.append(h("button", { type: "button", class: "secondary small", onclick: () => actions.continueAnswer(m) }, "Continue"));
  const fb = feedbackControls(conversationId, question, m);
  bubble.append(row);
  if (fb) bubble.append(fb);
  if (aside) turn.append(aside);
  return turn;
}
