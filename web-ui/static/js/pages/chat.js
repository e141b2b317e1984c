import { h, replace, field, statusLine, toast, fmtTime } from "../h.js";
import { api, explain } from "../api.js";
import { streamChat } from "../chatStream.js";

export const title = "Chat";

// Where conversations live (the memory service) and how the node links a completion to one.
const routes = {
  list: "/api/conversations",
  one: (id) => `/api/conversations/${encodeURIComponent(id)}`,
  feedback: (id, mid) => `/api/conversations/${encodeURIComponent(id)}/messages/${encodeURIComponent(mid)}/feedback`,
};

function citationsOf(chunk) {
  return chunk?.sovereign?.citations ?? chunk?.citations ?? null;
}

function citationList(citations) {
  if (!citations?.length) return null;
  return h(
    "div",
    { class: "citations" },
    h("strong", null, "From memory:"),
    h("ol", null, citations.map((c) => h("li", null, c.title ?? c.source ?? "memory", c.snippet || c.text ? h("span", { class: "muted" }, ` – ${(c.snippet ?? c.text).slice(0, 160)}`) : null))),
  );
}

function feedbackControls(conversationId, message) {
  if (!conversationId || !message.id) return null;
  const box = h("div", { class: "feedback" });
  const send = async (rating, correction) => {
    try {
      await api(routes.feedback(conversationId, message.id), { method: "POST", body: correction ? { rating, correction } : { rating } });
      replace(box, h("span", { class: "ok", role: "status" }, rating === "up" ? "Thanks: marked helpful." : correction ? "Thanks: correction saved." : "Thanks: marked unhelpful."));
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
    h("button", { type: "button", class: "secondary small", "aria-label": "Good answer", onclick: () => send("up") }, "👍"),
    h("button", { type: "button", class: "secondary small", "aria-label": "Bad answer, suggest a correction", onclick: down }, "👎"),
  );
  return box;
}

function bubble(conversationId, m) {
  const el = h("div", { class: `msg ${m.role}` }, h("span", { class: "meta" }, m.role === "user" ? "You" : "Assistant"), h("span", { class: "body" }, m.content ?? ""));
  if (m.role === "assistant") {
    const cites = citationList(m.citations);
    if (cites) el.append(cites);
    const fb = feedbackControls(conversationId, m);
    if (fb) el.append(fb);
  }
  return el;
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
  const form = h("form", { class: "composer" }, h("label", { for: "prompt", class: "sr-only" }, "Message"), input, sendBtn, stopBtn);
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
      const items = data.conversations ?? data.items ?? data ?? [];
      replace(list, items.map((c) => h("li", null, h("button", { type: "button", "aria-current": String(c.id === conversationId), onclick: () => ctx.navigate(`chat/${encodeURIComponent(c.id)}`) }, c.title || "Untitled", h("span", { class: "hint" }, fmtTime(c.updatedAt ?? c.createdAt))))));
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
      replace(messages, turns.map((m) => bubble(conversationId, m)));
      messages.scrollTop = messages.scrollHeight;
    } catch (err) {
      status.textContent = explain(err);
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || controller) return;
    input.value = "";
    const userMsg = { role: "user", content: text };
    messages.append(bubble(conversationId, userMsg));
    const answer = { role: "assistant", content: "" };
    const el = bubble(null, answer);
    const body = el.querySelector(".body");
    el.setAttribute("aria-busy", "true");
    messages.append(el);
    controller = new AbortController();
    sendBtn.disabled = true;
    stopBtn.disabled = false;
    status.textContent = "Answering…";
    let citations = null;
    let messageId = null;
    try {
      const r = await streamChat(
        { messages: [...turns.map(({ role, content }) => ({ role, content })), userMsg], ...(conversationId ? { conversation_id: conversationId } : {}) },
        {
          signal: controller.signal,
          onDelta: (_piece, all) => {
            body.textContent = all;
            messages.scrollTop = messages.scrollHeight;
          },
          onExtra: (chunk) => {
            citations = citationsOf(chunk) ?? citations;
            const s = chunk.sovereign;
            if (s?.conversationId && !conversationId) conversationId = s.conversationId;
            if (s?.messageId) messageId = s.messageId;
          },
        },
      );
      answer.content = r.text;
      status.textContent = r.finishReason === "length" ? "Stopped at the length limit." : "";
    } catch (err) {
      answer.content = body.textContent;
      status.textContent = err?.name === "AbortError" ? "Stopped." : explain(err);
    } finally {
      controller = null;
      sendBtn.disabled = false;
      stopBtn.disabled = true;
      el.removeAttribute("aria-busy");
      input.focus();
    }
    turns.push(userMsg, answer);
    Object.assign(answer, { id: messageId, citations });
    el.replaceWith(bubble(conversationId, answer));
    if (conversationId && location.hash !== `#/chat/${encodeURIComponent(conversationId)}`) window.history.replaceState(null, "", `#/chat/${encodeURIComponent(conversationId)}`);
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
