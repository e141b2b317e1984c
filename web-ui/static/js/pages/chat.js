import { h, replace, field, statusLine, toast, fmtTime } from "../h.js";
import { api, explain } from "../api.js";
import { streamChat } from "../chatStream.js";

export const title = "Chat";

// Conversations live in the memory service; a completion names one with
// conversation_id and memory: true, and the node then supplies the history and
// retrieved notes itself (so only the new message is sent).
const routes = {
  list: "/api/conversations?limit=50",
  create: "/api/conversations",
  one: (id) => `/api/conversations/${encodeURIComponent(id)}`,
  feedback: "/api/memory/feedback",
  memory: (id) => `/api/memory/${encodeURIComponent(id)}`,
};

// The node names the memories it put in the prompt (by id); their text is fetched once each.
const memoryCache = new Map();
function citedMemories(ids) {
  if (!Array.isArray(ids) || ids.length === 0) return Promise.resolve([]);
  return Promise.all(
    ids.slice(0, 12).map((id) => {
      if (!memoryCache.has(id)) memoryCache.set(id, api(routes.memory(id)).then((r) => r.memory, () => ({ id, source: "memory", text: "(no longer in memory)" })));
      return memoryCache.get(id).then((memory) => ({ memory }));
    }),
  );
}

function citationList(hits) {
  if (!hits?.length) return null;
  return h(
    "details",
    { class: "citations" },
    h("summary", null, `From memory (${hits.length})`),
    h("ol", null, hits.map(({ memory: m }) => h("li", null, h("code", null, `[m${m.id}]`), ` ${m.source}: `, h("span", { class: "muted" }, m.text.length > 160 ? `${m.text.slice(0, 160)}…` : m.text)))),
  );
}

function feedbackControls(conversationId, question, message) {
  if (!question || !message.content) return null;
  const box = h("div", { class: "feedback" });
  const send = async (rating, correction) => {
    try {
      await api(routes.feedback, {
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
    const form = h(
      "form",
      { class: "inline" },
      field("What should the answer have been? (optional)", input),
      h("button", { type: "submit", class: "small" }, "Send feedback"),
    );
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

function bubble(conversationId, m, question) {
  const el = h("div", { class: `msg ${m.role}` }, h("span", { class: "meta" }, m.role === "user" ? "You" : "Assistant"), h("span", { class: "body" }, m.content ?? ""));
  if (m.role === "assistant") {
    const cites = citationList(m.citations);
    if (cites) el.append(cites);
    const fb = feedbackControls(conversationId, question, m);
    if (fb) el.append(fb);
  }
  return el;
}

/** Bubbles for a message list, each answer knowing the question before it (for feedback). */
function bubbles(conversationId, list) {
  let question = null;
  return list.map((m) => {
    const el = bubble(conversationId, m, question);
    if (m.role === "user") question = m.content;
    return el;
  });
}

export function render(root, ctx) {
  let conversationId = ctx.params[0] ?? null;
  let turns = [];
  let controller = null;

  const list = h("ul", { "aria-label": "Conversations" });
  const messages = h("div", { class: "messages", role: "log", "aria-live": "polite", "aria-label": "Messages" });
  const input = h("textarea", { name: "prompt", rows: 2, placeholder: "Ask something…", required: true });
  const sendBtn = h("button", { type: "submit" }, "Send");
  const stopBtn = h("button", { type: "button", class: "danger", disabled: true, onclick: () => controller?.abort() }, "Stop");
  const status = statusLine();
  const length = h("select", { name: "length", id: "answer-length" }, [["", "Default"], ["64", "Short"], ["1024", "Long"]].map(([v, t]) => h("option", { value: v }, t)));
  const form = h(
    "form",
    null,
    h("div", { class: "composer" }, h("label", { for: "prompt", class: "sr-only" }, "Message"), input, sendBtn, stopBtn),
    h("div", { class: "row options" }, h("label", { for: "answer-length" }, "Answer length"), length),
  );
  input.id = "prompt";

  root.append(
    h("h1", null, "Chat"),
    h(
      "div",
      { class: "chat" },
      h("section", { class: "card conversations", "aria-labelledby": "conv-title" }, h("h2", { id: "conv-title" }, "Conversations"), h("button", { type: "button", class: "secondary small", onclick: () => ctx.navigate("chat") }, "New chat"), list),
      h("section", { class: "card", "aria-label": "Conversation" }, messages, form, status),
    ),
  );

  async function loadList() {
    try {
      const data = await api(routes.list);
      const items = data.conversations ?? [];
      replace(list, items.map((c) => h("li", null, h("button", { type: "button", "aria-current": String(c.id === conversationId), onclick: () => ctx.navigate(`chat/${encodeURIComponent(c.id)}`) }, c.title || "Untitled", h("span", { class: "hint" }, fmtTime(c.updatedAt))))));
      if (!items.length) list.append(h("li", { class: "muted" }, "No conversations yet."));
    } catch (err) {
      replace(list, h("li", { class: "error" }, explain(err)));
    }
  }

  async function loadConversation() {
    if (!conversationId) return;
    try {
      const data = await api(routes.one(conversationId));
      turns = (data.messages ?? []).filter((m) => m.role === "user" || m.role === "assistant");
      await Promise.all(turns.map(async (m) => {
        if (m.meta?.citations) m.citations = await citedMemories(m.meta.citations);
      }));
      replace(messages, bubbles(conversationId, turns));
      messages.scrollTop = messages.scrollHeight;
    } catch (err) {
      status.textContent = explain(err);
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || controller) return;
    controller = new AbortController();
    sendBtn.disabled = true;
    stopBtn.disabled = false;
    input.value = "";
    const userMsg = { role: "user", content: text };
    messages.append(bubble(conversationId, userMsg));
    const answer = { role: "assistant", content: "" };
    const el = bubble(null, answer);
    const body = el.querySelector(".body");
    el.setAttribute("aria-busy", "true");
    messages.append(el);
    messages.scrollTop = messages.scrollHeight;
    status.textContent = "Answering…";
    let extension = null;
    try {
      if (!conversationId) {
        const r = await api(routes.create, { method: "POST", body: { title: text.slice(0, 80) } });
        conversationId = r.conversation.id;
        window.history.replaceState(null, "", `#/chat/${encodeURIComponent(conversationId)}`);
      }
      const r = await streamChat(
        { messages: [userMsg], conversation_id: conversationId, memory: true, ...(length.value ? { max_tokens: Number(length.value) } : {}) },
        {
          signal: controller.signal,
          onDelta: (_piece, all) => {
            body.textContent = all;
            messages.scrollTop = messages.scrollHeight;
          },
          // The final chunk carries the node's extension: stored message ids and cited memory ids.
          onExtra: (chunk) => {
            if (chunk.sovereign) extension = chunk.sovereign;
          },
        },
      );
      answer.content = r.text;
      status.textContent = r.finishReason === "length" ? "The answer reached its length limit." : "";
    } catch (err) {
      answer.content = body.textContent;
      if (!answer.content) body.textContent = err?.name === "AbortError" ? "(stopped before any text)" : "(no answer)";
      status.textContent = err?.name === "AbortError" ? "Stopped." : explain(err);
    } finally {
      controller = null;
      sendBtn.disabled = false;
      stopBtn.disabled = true;
      el.removeAttribute("aria-busy");
      input.focus();
    }
    answer.citations = await citedMemories(extension?.citations);
    if (Number.isInteger(extension?.assistant_message_id)) answer.id = extension.assistant_message_id;
    turns.push(userMsg, answer);
    if (answer.content) el.replaceWith(bubble(conversationId, answer, text));
    void loadList();
  });
  input.addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter makes a new line (the usual chat convention).
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });

  void loadList();
  void loadConversation();
  input.focus();
  return () => controller?.abort();
}
