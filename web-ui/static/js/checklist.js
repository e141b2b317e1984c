// The first-run checklist on the dashboard (admins): what a new node still
// lacks, each item read from the node's real state and linking to the page
// that fixes it. It folds to one line once everything is done.
import { h, replace } from "./h.js";
import { api } from "./api.js";
import { loadEditable, upcoming } from "./nodeSettings.js";

const safe = (p, fallback) => p.catch(() => fallback);

async function readState() {
  const [models, keys, peers, editable] = await Promise.all([
    safe(api("/api/models"), null),
    safe(api("/api/keys"), null),
    safe(api("/api/federation/peers"), null),
    safe(loadEditable(), null),
  ]);
  const list = models?.models ?? [];
  const fedSetting = editable?.settings.find((s) => s.key === "federation.enabled");
  return {
    chatModel: list.some((m) => m.kind === "llm"),
    embeddingModel: list.some((m) => m.kind === "embedding"),
    federation: peers?.self?.enabled === true,
    federationPending: peers?.self?.enabled !== true && fedSetting !== undefined && upcoming(fedSetting) === true,
    apiKey: (keys?.keys ?? []).some((k) => k.status === "active"),
  };
}

function items(s) {
  return [
    { id: "chat-model", done: s.chatModel, title: "Add a chat model", href: "#/models", link: "Add a model", text: "Upload a GGUF file, pull one from a URL, or add one from an import folder on the node, such as a USB stick listed in inference.importDirs. Chat answers need it." },
    { id: "embedding-model", done: s.embeddingModel, title: "Add an embedding model", href: "#/models", link: "Add a model", text: "Memory search then finds notes and documents by meaning, not only by their words." },
    { id: "federation", done: s.federation, title: "Turn on federation", href: "#/peers", link: "Turn it on", text: s.federationPending ? "Saved as on: it starts after a restart (see Peers)." : "Optional: find other nodes on the LAN, share memory and answers with the ones you approve." },
    { id: "api-key", done: s.apiKey, title: "Make an API key", href: "#/users", link: "Make a key", text: "For scripts and apps that speak the OpenAI API at /v1." },
  ];
}

/** The checklist card; it fills itself in and re-reads the state when asked (`refresh`). */
export function setupChecklist() {
  const card = h("section", { class: "card checklist", "aria-labelledby": "checklist-title" }, h("h2", { id: "checklist-title" }, "Getting started"), h("p", { class: "muted" }, "Checking what this node has…"));
  const draw = (s) => {
    const list = items(s);
    const left = list.filter((i) => !i.done).length;
    const heading = h("h2", { id: "checklist-title" }, "Getting started");
    if (left === 0) {
      replace(card, heading, h("p", null, h("span", { class: "badge good" }, "done"), " Everything on the first-run list is in place."));
      return;
    }
    replace(
      card,
      heading,
      h("p", { class: "muted" }, `${list.length - left} of ${list.length} done.`),
      h("ul", { class: "plain checklist-items", "aria-label": "First-run checklist" },
        list.map((i) =>
          h("li", { class: i.done ? "done" : "todo", "data-done": String(i.done) },
            h("span", { class: `badge ${i.done ? "good" : ""}` }, i.done ? "done" : "to do"),
            h("span", { class: "item" }, h("strong", { id: `todo-${i.id}` }, i.title), h("span", { class: "hint" }, i.text)),
            // Short link words that never repeat a page's name (the nav's links keep theirs), tied to the item they do.
            i.done ? null : h("a", { href: i.href, "aria-describedby": `todo-${i.id}`, "data-testid": `todo-${i.id}` }, i.link)))),
    );
  };
  const refresh = () => readState().then(draw, () => card.remove());
  void refresh();
  return { card, refresh };
}
