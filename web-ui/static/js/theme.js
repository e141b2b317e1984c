// Light and dark theme: the person's choice (remembered in localStorage) wins;
// without one the panel follows the system (prefers-color-scheme), live.
// Imported once by app.js for its side effect: sets <html data-theme> and adds
// the toggle to the top bar, so it works on the setup and login pages too.

import { h } from "./h.js";

const KEY = "sovereign-theme";
const media = window.matchMedia("(prefers-color-scheme: dark)");

function stored() {
  try {
    const v = localStorage.getItem(KEY);
    return v === "light" || v === "dark" ? v : null;
  } catch {
    return null;
  }
}

export function currentTheme() {
  return document.documentElement.dataset.theme === "dark" ? "dark" : "light";
}

function apply(theme) {
  document.documentElement.dataset.theme = theme;
  const button = document.getElementById("theme-toggle");
  if (button) button.setAttribute("aria-pressed", String(theme === "dark"));
}

export function setTheme(theme) {
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    // Private mode or storage off: the choice lasts for this page only.
  }
  apply(theme);
}

apply(stored() ?? (media.matches ? "dark" : "light"));
media.addEventListener("change", (e) => {
  if (!stored()) apply(e.matches ? "dark" : "light");
});

const toggle = h(
  "button",
  { id: "theme-toggle", type: "button", class: "secondary small theme-toggle", "aria-pressed": String(currentTheme() === "dark"), onclick: () => setTheme(currentTheme() === "dark" ? "light" : "dark") },
  h("span", { "aria-hidden": "true" }, "◐"),
  h("span", { class: "label" }, " Dark theme"),
);
document.querySelector(".topbar")?.append(toggle);
