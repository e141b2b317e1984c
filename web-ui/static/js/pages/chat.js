import { h, replace, statusLine } from "../h.js";
import { api, explain } from "../api.js";
import { streamChat } from "../chatStream.js";
import { messageView, renderAnswer, citedMemories } from "../chat/messageView.js";
import { chatSettings } from "../chat/chatSettings.js";
import { attachments } from "../chat/attachments.js";
import { conversationList, conversationHeader, convRoutes } from "../chat/conversations.js";

export const title = "Chat";

// Conversations live in the memory service; a completion names one with
// conversation_id and memory: true, and the node then supplies the history and
// retrieved notes itself (so only the new message is sent). The page keeps the
// conversation's settings with it and sends them with every turn.
const routes = {
  models: "/v1/models",
  create: "/api/conversations",
  cut: (id, from) => `/api/conversations/${encodeURIComponent(id)}/messages?from=${from}`,
  message: (id, mid) => `/api/conversations/${encodeURIComponent(id)}/messages/${mid}`,
};

const isModelMissing = (err) => err?.code === "model_not_found" || err?.code === "NO_MODEL" || err?.code === "MODEL_NOT_FOUND";

export function render(root, ctx) {
  let conversationId = ctx.params[0] ?? null;
  let conv = null;
  let turns = [];
  let controller = null;
  // After a stop the node may still be storing the turn: reread before acting on message ids.
  let stale = false;
  let chatModels = null;

  const side = conversationList({ navigate: ctx.navigate, newChat: () => ctx.navigate("chat") });
  side.setCurrent(conversationId);
  const head = h("div", { class: "conv-header" });
  const notice = h("div", { class: "notice no-model", role: "status", hidden: true });
  const messages = h("div", { class: "messages", role: "log", "aria-live": "polite", "aria-label": "Messages" });
  const input = h("textarea", { name: "prompt", id: "prompt", rows: 2, placeholder: "Ask something…", required: true });
  const sendBtn = h("button", { type: "submit" }, "Send");
  const stopBtn = h("button", { type: "button", class: "danger", disabled: true, onclick: () => controller?.abort() }, "Stop");
  const status = statusLine();
  const settings = chatSettings({ onChange: saveSettings });
  const attach = attachments({ onAttached });
  const form = h("form", { class: "composer-form" }, attach.el, h("div", { class: "composer" }, h("label", { for: "prompt", class: "sr-only" }, "Message"), input, sendBtn, stopBtn), settings.el);
  const actions = { regenerate, continueAnswer, edit };

  root.append(
    h("h1", null, "Chat"),
    h("div", { class: "chat" }, side.el, h("section", { class: "card conversation", "aria-labelledby": "chat-title" }, head, notice, messages, form, status)),
  );

  function showHeader() {
    replace(head, conversationHeader(conv, {
      onChanged: () => void side.load(),
      onDeleted: () => {
        void side.load();
        ctx.navigate("chat");
      },
    }));
  }

  /** No chat model: say so where the answer would be, with the way to fix it. */
  function showNoModel(show, loud = false) {
    notice.hidden = !show;
    if (!show) return replace(notice);
    const admin = ctx.user?.role === "admin";
    replace(
      notice,
      h("p", null, h("strong", null, "No chat model is installed yet,"), " so there is nothing to answer with.", loud ? " Your message was not sent and no conversation was made." : ""),
      admin
        ? h("p", null, "Add one on the Models page: upload a GGUF file from this computer, or pull one from a URL on your network. ", h("a", { href: "#/models", id: "no-model-link" }, "Open Models to add a chat model"))
        : h("p", null, "An admin of this node can add one on the Models page."),
    );
    if (loud) (notice.querySelector("a") ?? input).focus();
  }

  async function loadModels() {
    try {
      const r = await api(routes.models);
      chatModels = (r.data ?? []).filter((m) => (m.kind ?? "llm") === "llm").map((m) => m.id);
      settings.setModels(chatModels);
      showNoModel(chatModels.length === 0);
    } catch {
      chatModels = null;
    }
  }

  async function saveSettings(s) {
    if (!conversationId) return;
    try {
      conv = (await api(convRoutes.one(conversationId), { method: "PATCH", body: { settings: s } })).conversation;
      status.textContent = "Settings saved for this chat.";
    } catch (err) {
      status.textContent = explain(err);
    }
  }

  async function onAttached(a) {
    const list = [...(settings.get().attachments ?? []), a];
    settings.setExtras({ attachments: list });
    attach.show(list);
    await saveSettings(settings.get());
  }

  function draw() {
    let question = null;
    const last = turns.length - 1;
    replace(messages, turns.map((m, i) => {
      const el = messageView(m, { conversationId, question, last: i === last, actions });
      if (m.role === "user") question = m.content;
      return el;
    }));
    if (!turns.length) messages.append(h("p", { class: "muted intro" }, "Ask anything. Answers can use what is in memory (notes and documents, also ones you attach here) and show their sources beside the text."));
    messages.scrollTop = messages.scrollHeight;
  }

  async function loadConversation() {
    if (!conversationId) {
      conv = null;
      turns = [];
      settings.set({});
      attach.show([]);
      showHeader();
      draw();
      return;
    }
    try {
      const data = await api(convRoutes.one(conversationId));
      conv = data.conversation;
      settings.set(conv.settings ?? {});
      attach.show(conv.settings?.attachments ?? []);
      turns = (data.messages ?? []).filter((m) => m.role === "user" || m.role === "assistant");
      await Promise.all(turns.map(async (m) => {
        if (m.meta?.citations) m.citations = await citedMemories(m.meta.citations);
      }));
      stale = false;
      showHeader();
      draw();
    } catch (err) {
      status.textContent = explain(err);
    }
  }

  // Streaming repaints the Markdown at most once a frame.
  let pending = null;
  function paint(body, text) {
    const first = pending === null;
    pending = { body, text };
    if (first) {
      window.requestAnimationFrame(() => {
        if (pending) renderAnswer(pending.body, pending.text);
        pending = null;
        messages.scrollTop = messages.scrollHeight;
      });
    }
  }

  function begin(view) {
    controller = new AbortController();
    sendBtn.disabled = true;
    stopBtn.disabled = false;
    view?.setAttribute("aria-busy", "true");
    status.textContent = "Answering…";
  }
  function end(view) {
    controller = null;
    pending = null;
    sendBtn.disabled = false;
    stopBtn.disabled = true;
    view?.removeAttribute("aria-busy");
    input.focus();
  }

  const systemMessages = (s) => (s.system?.trim() ? [{ role: "system", content: s.system }] : []);

  /** Sends one question in this conversation (making the conversation first if needed). False: nothing was sent. */
  async function runTurn(text) {
    if (controller) return false;
    if (!chatModels?.length) await loadModels();
    // No model: explain here, keep what was typed, and create nothing.
    if (chatModels && chatModels.length === 0) {
      showNoModel(true, true);
      return false;
    }
    const userMsg = { role: "user", content: text };
    const answer = { role: "assistant", content: "", meta: {} };
    const userView = messageView(userMsg, { streaming: true });
    const view = messageView(answer, { streaming: true });
    const body = view.querySelector(".body");
    messages.querySelector(".intro")?.remove();
    messages.append(userView, view);
    messages.scrollTop = messages.scrollHeight;
    begin(view);
    let created = false;
    let extension = null;
    let failure = null;
    try {
      if (!conversationId) {
        conv = (await api(routes.create, { method: "POST", body: { title: text.slice(0, 80), settings: settings.get() } })).conversation;
        conversationId = conv.id;
        created = true;
        side.setCurrent(conversationId);
        window.history.replaceState(null, "", `#/chat/${encodeURIComponent(conversationId)}`);
        showHeader();
      }
      const s = settings.get();
      const r = await streamChat(
        { messages: [...systemMessages(s), userMsg], conversation_id: conversationId, memory: true, ...settings.request(s) },
        {
          signal: controller.signal,
          onDelta: (_piece, all) => paint(body, all),
          // The final chunk carries the node's extension: stored message ids and cited memory ids.
          onExtra: (chunk) => {
            if (chunk.model) answer.meta.model = chunk.model;
            if (chunk.sovereign) extension = chunk.sovereign;
          },
        },
      );
      answer.content = r.text;
      answer.meta.finishReason = r.finishReason === "length" ? "length" : "stop";
    } catch (err) {
      failure = err;
    }
    if (failure && created) {
      // A conversation made for a turn the node refused holds nothing: take it away again.
      const kept = await api(convRoutes.one(conversationId)).catch(() => null);
      if (kept && !kept.messages?.length) {
        await api(convRoutes.one(conversationId), { method: "DELETE" }).catch(() => null);
        conversationId = null;
        conv = null;
        side.setCurrent(null);
        window.history.replaceState(null, "", "#/chat");
        showHeader();
      }
    }
    if (failure && isModelMissing(failure)) {
      userView.remove();
      view.remove();
      end(null);
      await loadModels();
      if (chatModels?.length) status.textContent = `${explain(failure)} Pick another model below.`;
      else {
        status.textContent = "";
        showNoModel(true, true);
      }
      if (!turns.length) draw();
      void side.load();
      return false;
    }
    if (failure) {
      const aborted = failure?.name === "AbortError";
      answer.content = pending?.text ?? answer.content;
      renderAnswer(body, answer.content || (aborted ? "(stopped before any text)" : "(no answer)"));
      status.textContent = aborted ? "Stopped." : explain(failure);
      stale = true;
      end(view);
    } else {
      userMsg.id = extension?.user_message_id ?? undefined;
      answer.id = extension?.assistant_message_id ?? undefined;
      answer.meta.citations = extension?.citations ?? [];
      // A federation peer generated it (the node offloaded the turn): say which, as a reopened conversation does.
      if (extension?.served_by && extension.served_by !== "local") answer.meta.node = extension.served_by_name ?? extension.served_by;
      answer.citations = await citedMemories(extension?.citations);
      turns.push(userMsg, answer);
      status.textContent = answer.meta.finishReason === "length" ? "The answer reached its length limit: Continue goes on from there." : "";
      draw();
      end(view);
    }
    void side.load();
    return true;
  }

  /** Cuts the conversation at turns[index] (that message and all after it). */
  async function cutAt(index) {
    await api(routes.cut(conversationId, turns[index].id), { method: "DELETE" });
    turns = turns.slice(0, index);
    draw();
  }

  async function fresh() {
    if (stale) await loadConversation();
    return !controller;
  }

  async function regenerate() {
    if (controller || !(await fresh())) return;
    const i = turns.findLastIndex((t) => t.role === "user");
    if (i < 0 || !Number.isInteger(turns[i].id)) return;
    const text = turns[i].content;
    try {
      await cutAt(i);
      await runTurn(text);
    } catch (err) {
      status.textContent = explain(err);
    }
  }

  async function edit(m, text) {
    if (controller || !(await fresh())) return;
    const i = turns.findIndex((t) => t.id === m.id);
    if (i < 0) return void (status.textContent = "That message is no longer in this conversation.");
    try {
      await cutAt(i);
      await runTurn(text);
    } catch (err) {
      status.textContent = explain(err);
    }
  }

  /** Asks the model to go on with its last answer, and stores the longer text in its place. */
  async function continueAnswer() {
    if (controller || !(await fresh())) return;
    const i = turns.length - 1;
    const m = turns[i];
    if (m?.role !== "assistant" || !Number.isInteger(m.id)) return;
    const view = messages.querySelector(`[data-id="${m.id}"]`);
    const body = view.querySelector(".body");
    begin(view);
    const s = settings.get();
    let more = "";
    let finishReason = "stop";
    try {
      // The whole history ending in the answer: the model continues that answer (nothing is stored by this call).
      const r = await streamChat(
        { messages: [...systemMessages(s), ...turns.map(({ role, content }) => ({ role, content }))], memory: true, ...settings.request(s) },
        { signal: controller.signal, onDelta: (_piece, all) => paint(body, m.content + (more = all)) },
      );
      more = r.text;
      finishReason = r.finishReason === "length" ? "length" : "stop";
      status.textContent = more ? "" : "The model had nothing to add.";
    } catch (err) {
      status.textContent = explain(err);
    }
    try {
      if (more) {
        const saved = (await api(routes.message(conversationId, m.id), { method: "PATCH", body: { content: m.content + more, finishReason } })).message;
        m.content = saved.content;
        m.meta = { ...saved.meta };
      }
    } catch (err) {
      status.textContent = explain(err);
    }
    draw();
    end(view);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || controller) return;
    input.value = "";
    if (!(await runTurn(text)) && !input.value) input.value = text;
  });
  input.addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter makes a new line (the usual chat convention).
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });

  void side.load();
  void loadModels().then(loadConversation);
  input.focus();
  return () => {
    controller?.abort();
    side.stop();
  };
}
