// The page registry: the nav and the router are built from this list.
// Adding a page is one file: js/pages/<id>.js exporting `title` and
// `render(root, ctx)` (optionally returning a cleanup function). Entries
// marked `slot` are filled by other services' issues (peers, audit); until
// their file exists the page says so instead of failing.

export const pages = [
  { id: "dashboard", title: "Dashboard" },
  { id: "chat", title: "Chat" },
  { id: "memory", title: "Memory" },
  { id: "models", title: "Models", roles: ["admin"] },
  { id: "jobs", title: "Jobs", roles: ["admin"] },
  { id: "peers", title: "Peers", roles: ["admin"], slot: true },
  { id: "audit", title: "Audit", roles: ["admin"], slot: true },
  { id: "updates", title: "Updates", roles: ["admin"] },
  { id: "users", title: "Users & keys" },
  { id: "settings", title: "Settings" },
];

export function loadPage(id) {
  return import(`./pages/${id}.js`);
}
