// The chat's per-conversation choices: model, answer length, system prompt and
// temperature. The page stores them with the conversation and sends them with
// every turn (the chat API itself keeps no per-conversation settings).
import { h, field } from "../h.js";

const LENGTHS = [["", "Default"], ["64", "Short"], ["256", "Medium"], ["1024", "Long"], ["4096", "Very long"]];

/** `onChange(settings)` fires when a person changes a control (not when the page sets them). */
export function chatSettings({ onChange }) {
  const model = h("select", { name: "model", id: "chat-model" });
  const length = h("select", { name: "length", id: "answer-length" }, LENGTHS.map(([v, t]) => h("option", { value: v }, t)));
  const system = h("textarea", { name: "system", rows: 3, placeholder: "For example: Answer briefly, in French." });
  const temperature = h("input", { name: "temperature", type: "number", min: "0", max: "2", step: "0.1", inputmode: "decimal", placeholder: "model default" });
  const more = h(
    "details",
    { class: "more-settings" },
    h("summary", null, "System prompt and temperature"),
    field("System prompt", system, "Sent before every message of this chat."),
    field("Temperature", temperature, "0 gives focused, repeatable answers; 1 the usual; up to 2 freer ones. Empty: the model's default."),
  );
  const el = h(
    "div",
    { class: "chat-options" },
    h("div", { class: "row options" }, h("label", { for: "chat-model" }, "Model"), model, h("label", { for: "answer-length" }, "Answer length"), length),
    more,
  );
  let extras = {};

  /** What the controls say, as stored settings (empty ones left out). */
  function get() {
    const s = { ...extras };
    if (model.value) s.model = model.value;
    if (length.value) s.maxTokens = Number(length.value);
    if (system.value.trim()) s.system = system.value;
    const t = temperature.value === "" ? null : Number(temperature.value);
    if (t !== null && Number.isFinite(t) && t >= 0 && t <= 2) s.temperature = t;
    return s;
  }

  function set(settings = {}) {
    const { model: m, maxTokens, system: sys, temperature: t, ...rest } = settings;
    extras = rest;
    if (m && ![...model.options].some((o) => o.value === m)) model.append(h("option", { value: m }, `${m} (not installed)`));
    model.value = m ?? "";
    const len = maxTokens ? String(maxTokens) : "";
    if (len && ![...length.options].some((o) => o.value === len)) length.append(h("option", { value: len }, `${len} tokens`));
    length.value = len;
    system.value = sys ?? "";
    temperature.value = typeof t === "number" ? String(t) : "";
    if (sys || typeof t === "number") more.open = true;
  }

  /** The chat models to offer; the empty choice is the node's default. */
  function setModels(names, defaultName) {
    const keep = model.value;
    model.replaceChildren(
      h("option", { value: "" }, defaultName ? `Default (${defaultName})` : "Default"),
      ...names.map((n) => h("option", { value: n }, n)),
    );
    set({ ...get(), ...(keep ? { model: keep } : {}) });
  }

  /** The request fields these settings add to a chat completion. */
  function request(s = get()) {
    return {
      ...(s.model ? { model: s.model } : {}),
      ...(typeof s.temperature === "number" ? { temperature: s.temperature } : {}),
      ...(s.maxTokens ? { max_tokens: s.maxTokens } : {}),
    };
  }

  const changed = () => {
    if (!temperature.validity.valid) {
      // Not saved or sent: the browser says why next to the field.
      temperature.setAttribute("aria-invalid", "true");
      temperature.reportValidity();
      return;
    }
    temperature.removeAttribute("aria-invalid");
    onChange(get());
  };
  for (const c of [model, length, system, temperature]) c.addEventListener("change", changed);

  return { el, get, set, setModels, request, setExtras: (x) => (extras = { ...extras, ...x }) };
}
