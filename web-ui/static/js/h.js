// A tiny DOM helper: h("button", { onclick, class: "x", "aria-label": "y" }, "text", child).
// No virtual DOM: pages build elements and replace regions they own.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else if (k === "value" || k === "checked" || k === "disabled" || k === "selected") el[k] = v;
      else if (k === "ref") v(el);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof window.Node ? c : String(c));
  }
}

/** Replaces everything inside `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
/** A labelled form field: label, input (or select/textarea) and an optional hint, linked for screen readers. */
export function field(label, input, hint) {
  const id = input.id || `f${++ids}`;
  input.id = id;
  const hintEl = hint ? h("small", { id: `${id}-hint`, class: "hint" }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl);
}

export function fmtBytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "–";
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(n < 10 && i > 0 ? 1 : 0)} ${u[i]}`;
}

export function fmtTime(t) {
  if (!t) return "–";
  const d = new Date(typeof t === "number" && t < 1e12 ? t * 1000 : t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

/** A status line for a region: role=status so screen readers hear changes. */
export function statusLine(text = "") {
  return h("p", { class: "status-line", role: "status", "aria-live": "polite" }, text);
}

/** Clears the page-wide message (on navigation, so it never covers the next page). */
export function clearToast() {
  const t = document.getElementById("toast");
  if (t) {
    t.textContent = "";
    t.className = "toast";
  }
}

/** Shows a message in the page-wide live region. */
export function toast(text, kind = "info") {
  const t = document.getElementById("toast");
  if (!t) return;
  t.className = `toast ${kind}`;
  t.textContent = text;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    t.textContent = "";
    t.className = "toast";
  }, 6000);
}

/** A table from rows, with a caption for screen readers. */
export function table(caption, headers, rows) {
  // A wide table scrolls sideways inside its region, which must then be keyboard-reachable.
  return h(
    "div",
    { class: "table-wrap", role: "region", "aria-label": caption, tabindex: "0" },
    h(
      "table",
      null,
      h("caption", { class: "sr-only" }, caption),
      h("thead", null, h("tr", null, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", null, rows.length ? rows.map((r) => h("tr", null, r.map((c, i) => h("td", { "data-label": headers[i] || null }, c)))) : h("tr", null, h("td", { colspan: headers.length, class: "empty" }, "Nothing here yet."))),
    ),
  );
}
