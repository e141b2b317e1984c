// Renders a model's answer (untrusted text) as Markdown. Three layers keep it inert:
// raw HTML in the answer is shown as text (marked's html renderer escapes it), the
// HTML marked produces then goes through DOMPurify (no scripts, handlers, styles,
// forms, images or javascript: URLs survive), and code is highlighted into text
// nodes and spans built here, never from an HTML string.
import { Marked, DOMPurify, tokenizeWith, languages } from "../vendor/markdown.js";
import { h } from "./h.js";

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ESC[c]);

// Fence names people write, mapped to the grammars shipped in vendor/markdown.js.
const ALIASES = {
  python: "py", python3: "py", javascript: "js", jsx: "js", mjs: "js", node: "js", typescript: "ts", tsx: "ts",
  sh: "bash", shell: "bash", zsh: "bash", console: "bash", rust: "rs", yml: "yaml", cpp: "c", "c++": "c", h: "c", hpp: "c",
  golang: "go", dockerfile: "docker", htm: "html", svg: "xml", conf: "ini", cfg: "ini", patch: "diff",
};

const marked = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    // A model that writes <script> or <img onerror> shows the tags as text.
    html: ({ text }) => esc(text),
    // No images: a remote picture would carry the chat's text out in its URL. A link shows where it points.
    image: ({ href, text }) => `<a href="${esc(href)}">${esc(text || href)}</a>`,
    code: ({ text, lang }) => {
      const name = String(lang ?? "").trim().split(/\s/)[0].toLowerCase().replace(/[^\w+#-]/g, "");
      return `<pre><code${name ? ` class="language-${name}"` : ""}>${esc(text)}</code></pre>\n`;
    },
  },
});

const PURIFY = {
  RETURN_DOM_FRAGMENT: true,
  FORBID_TAGS: ["style", "img", "svg", "math", "form", "input", "button", "textarea", "select", "option", "iframe", "video", "audio", "source", "picture", "dialog"],
  FORBID_ATTR: ["style", "id", "name", "srcset"],
  ALLOW_DATA_ATTR: false,
};

// Links leave the panel in a new tab that cannot reach back into it.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

/** Copies text: the Clipboard API where the page is a secure context, else the older way (plain http on the LAN). */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Refused (permissions): fall through to the selection copy.
  }
  const area = h("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true", tabindex: "-1" });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

/** A "Copy" button that says for a moment whether it worked. */
export function copyButton(getText, label = "Copy") {
  const button = h("button", { type: "button", class: "secondary small copy" }, label);
  button.addEventListener("click", async () => {
    const ok = await copyText(getText());
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => (button.textContent = label), 2000);
  });
  return button;
}

function highlight(code) {
  const asked = /(?:^|\s)language-([\w+#-]+)/.exec(code.className)?.[1] ?? "";
  const name = ALIASES[asked] ?? asked;
  const text = code.textContent;
  if (languages[name]) {
    code.replaceChildren();
    tokenizeWith(text, name, (piece, type) => {
      if (piece) code.append(type ? h("span", { class: `tok-${type}` }, piece) : piece);
    }, { languages });
  }
  const pre = code.parentElement;
  // A long line scrolls sideways: the block must be reachable by keyboard.
  pre.setAttribute("tabindex", "0");
  const block = h("div", { class: "code-block" }, h("div", { class: "code-head" }, h("span", { class: "lang" }, asked || "code"), copyButton(() => text, "Copy")));
  pre.replaceWith(block);
  block.append(pre);
}

/** Turns "[m12]" in prose (not in code or links) into what `cite(id)` returns. */
function linkCitations(root, cite) {
  const { NodeFilter } = window;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => (n.parentElement?.closest("code, pre, a") ? NodeFilter.FILTER_REJECT : /\[m\d+\]/.test(n.data) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP),
  });
  const hits = [];
  while (walker.nextNode()) hits.push(walker.currentNode);
  for (const node of hits) {
    const parts = node.data.split(/(\[m\d+\])/);
    node.replaceWith(...parts.filter(Boolean).map((p) => {
      const id = /^\[m(\d+)\]$/.exec(p)?.[1];
      return (id && cite(Number(id))) || p;
    }));
  }
}

/**
 * Markdown → a DocumentFragment safe to insert. `cite(id)` may return an
 * element for a "[m<id>]" marker the model wrote (null keeps the text).
 */
export function renderMarkdown(text, { cite } = {}) {
  const frag = DOMPurify.sanitize(marked.parse(String(text ?? "")), PURIFY);
  for (const code of frag.querySelectorAll("pre > code")) highlight(code);
  if (cite) linkCitations(frag, cite);
  return frag;
}
