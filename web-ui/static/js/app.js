import { h, replace, toast, clearToast } from "./h.js";
import { onUnauthenticated, explain } from "./api.js";
import { pages, loadPage } from "./pages.js";
import { session, logout } from "./session.js";
import "./theme.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const userBox = document.getElementById("user");
const menuButton = document.getElementById("menu-button");
let cleanup = null;
let user = null;
let routeToken = 0;
// Where to go after logging in (a deep link opened while logged out), and a message for the login page.
let wanted = null;
let notice = null;

function visiblePages() {
  return pages.filter((p) => !p.roles || (user && p.roles.includes(user.role)));
}

function currentRoute() {
  const [id = "", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return { id, params: rest.map(decodeURIComponent) };
}

export function navigate(path) {
  if (location.hash === `#/${path}`) void route();
  else location.hash = `#/${path}`;
}

function renderChrome() {
  document.body.classList.toggle("signed-in", Boolean(user));
  if (!user) {
    nav.replaceChildren();
    userBox.replaceChildren();
    menuButton.hidden = true;
    return;
  }
  menuButton.hidden = false;
  const { id } = currentRoute();
  replace(
    nav,
    h("ul", null, visiblePages().map((p) =>
      h("li", null, h("a", { href: `#/${p.id}`, "aria-current": p.id === id ? "page" : null, onclick: () => setMenu(false) }, p.title)))),
  );
  replace(
    userBox,
    h("span", { class: "who" }, user.username ?? user.name ?? "", user.role ? h("span", { class: "role" }, ` (${user.role})`) : null),
    h("button", { type: "button", class: "secondary small", onclick: doLogout }, "Log out"),
  );
}

function setMenu(open) {
  menuButton.setAttribute("aria-expanded", String(open));
  document.body.classList.toggle("menu-open", open);
}
menuButton.addEventListener("click", () => setMenu(menuButton.getAttribute("aria-expanded") !== "true"));
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && menuButton.getAttribute("aria-expanded") === "true") {
    setMenu(false);
    menuButton.focus();
  }
});

async function doLogout() {
  try {
    await logout();
  } catch (err) {
    toast(explain(err), "error");
  }
  user = null;
  location.hash = "#/login";
  await boot();
}

async function show(module, params, token) {
  if (token !== routeToken) return;
  if (cleanup) cleanup();
  cleanup = null;
  clearToast();
  main.replaceChildren();
  const c = module.render(main, { user, params, navigate, refreshSession: boot, notice });
  notice = null;
  if (typeof c === "function") cleanup = c;
  document.title = `${module.title ?? "Sovereign Node"} · Sovereign Node`;
  // Move focus to the page heading so keyboard and screen-reader users land on the new content.
  const heading = main.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: false });
  }
}

async function route() {
  const token = ++routeToken;
  const { id, params } = currentRoute();
  if (!user) {
    const state = await session().catch(() => null);
    if (token !== routeToken) return;
    if (state?.user) {
      user = state.user;
    } else {
      renderChrome();
      const page = state?.setupRequired ? "setup" : "login";
      if (id && id !== "login" && id !== "setup") wanted = location.hash;
      if (id !== page) history.replaceState(null, "", `#/${page}`);
      return show(await import(`./pages/${page}.js`), [], token);
    }
  }
  if (id === "login" || id === "setup" || !id) {
    history.replaceState(null, "", wanted ?? "#/dashboard");
    wanted = null;
    return route();
  }
  renderChrome();
  const entry = visiblePages().find((p) => p.id === id);
  if (!entry) return show({ title: "Not found", render: (root) => root.append(h("h1", null, "Page not found"), h("p", null, h("a", { href: "#/dashboard" }, "Go to the dashboard"))) }, [], token);
  let mod;
  try {
    mod = await loadPage(id);
  } catch (err) {
    mod = entry.slot
      ? { title: entry.title, render: (root) => root.append(h("h1", null, entry.title), h("p", null, `${entry.title} is not installed on this node yet.`)) }
      : { title: entry.title, render: (root) => root.append(h("h1", null, entry.title), h("p", { role: "alert" }, `This page failed to load: ${explain(err)}`)) };
  }
  return show(mod, params, token);
}

export async function boot() {
  user = null;
  await route();
}

onUnauthenticated(() => {
  if (!user) return;
  user = null;
  notice = "Your session has ended (expired, logged out elsewhere, or revoked). Please log in again.";
  wanted = location.hash;
  location.hash = "#/login";
});
window.addEventListener("hashchange", () => void route());
void boot();
