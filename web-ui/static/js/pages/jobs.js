import { h, replace, table, fmtTime, toast, statusLine } from "../h.js";
import { api, explain } from "../api.js";

export const title = "Jobs";

const routes = {
  list: "/api/jobs",
  history: (name) => `/api/jobs/${encodeURIComponent(name)}/history?limit=20`,
  run: (name) => `/api/jobs/${encodeURIComponent(name)}/run`,
};

export function render(root) {
  const listBox = h("div");
  const histTitle = h("h2", { id: "hist-title" }, "History");
  const histBox = h("div", null, h("p", { class: "muted" }, "Choose a job to see its runs."));
  const status = statusLine();

  async function refresh() {
    try {
      const data = await api(routes.list);
      const jobs = data.jobs ?? data ?? [];
      replace(
        listBox,
        table(
          "Scheduled jobs",
          ["Job", "Schedule", "Last run", "Next run", ""],
          jobs.map((j) => [
            h("span", null, j.name, j.description ? h("span", { class: "hint" }, j.description) : null),
            h("code", null, j.schedule ?? j.cron ?? "–"),
            j.lastRun ? `${fmtTime(j.lastRun.startedAt ?? j.lastRun)} ${j.lastRun.status ? `(${j.lastRun.status})` : ""}` : "never",
            fmtTime(j.nextRun ?? j.nextRunAt),
            h("div", { class: "row" },
              h("button", { type: "button", class: "small", onclick: () => run(j.name), "aria-label": `Run ${j.name} now` }, "Run now"),
              h("button", { type: "button", class: "secondary small", onclick: () => history(j.name), "aria-label": `History of ${j.name}` }, "History")),
          ]),
        ),
      );
    } catch (err) {
      replace(listBox, h("p", { class: "error" }, explain(err)));
    }
  }

  async function run(name) {
    status.textContent = `Starting ${name}…`;
    try {
      await api(routes.run(name), { method: "POST" });
      status.textContent = `${name} started.`;
      setTimeout(() => {
        void refresh();
        void history(name);
      }, 1000);
    } catch (err) {
      toast(explain(err), "error");
      status.textContent = "";
    }
  }

  async function history(name) {
    histTitle.textContent = `History of ${name}`;
    try {
      const data = await api(routes.history(name));
      const runs = data.runs ?? data.history ?? data ?? [];
      replace(histBox, table(`Runs of ${name}`, ["Started", "Took", "Result", "Trigger", "Detail"], runs.map((r) => [
        fmtTime(r.startedAt),
        typeof r.durationMs === "number" ? `${(r.durationMs / 1000).toFixed(1)} s` : "–",
        h("span", { class: `badge ${r.status === "ok" || r.status === "succeeded" ? "good" : r.status === "failed" ? "bad" : ""}` }, r.status ?? "–"),
        r.trigger ?? "–",
        r.error ?? r.detail ?? "",
      ])));
    } catch (err) {
      replace(histBox, h("p", { class: "error" }, explain(err)));
    }
  }

  root.append(
    h("h1", null, "Jobs"),
    h("section", { class: "card", "aria-label": "Schedules" }, listBox, status),
    h("section", { class: "card", "aria-labelledby": "hist-title" }, histTitle, histBox),
  );
  void refresh();
}
