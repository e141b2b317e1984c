import { h, replace, table, fmtTime, toast, statusLine } from "../h.js";
import { api, explain } from "../api.js";
import { describeCron } from "../cronText.js";

export const title = "Jobs";

const routes = {
  list: "/api/jobs",
  history: (name) => `/api/jobs/runs?job=${encodeURIComponent(name)}&limit=20`,
  run: (name) => `/api/jobs/${encodeURIComponent(name)}/run`,
  pause: (name, paused) => `/api/jobs/${encodeURIComponent(name)}/${paused ? "resume" : "pause"}`,
};

function outcome(o) {
  return h("span", { class: `badge ${o === "ok" ? "good" : o === "error" || o === "timeout" || o === "interrupted" ? "bad" : ""}` }, o ?? "–");
}

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
            h("span", null, j.name, j.running ? h("span", { class: "badge good" }, " running") : null, j.paused ? h("span", { class: "badge bad" }, " paused") : null, j.description ? h("span", { class: "hint" }, j.description) : null, j.onlyWhenIdle ? h("span", { class: "hint" }, "Runs only while the node is idle.") : null),
            h("span", null, describeCron(j.schedule) ?? "", h("span", { class: "hint" }, h("code", null, j.schedule))),
            j.lastRun ? h("span", null, fmtTime(j.lastRun.startedAt), " ", outcome(j.lastRun.outcome)) : "never",
            j.paused ? "paused" : fmtTime(j.nextRunAt),
            h("div", { class: "row" },
              h("button", { type: "button", class: "small", disabled: j.running, onclick: () => run(j.name), "aria-label": `Run now: ${j.name}` }, "Run now"),
              h("button", { type: "button", class: "secondary small", onclick: () => togglePause(j), "aria-label": `${j.paused ? "Resume" : "Pause"} ${j.name}` }, j.paused ? "Resume" : "Pause"),
              h("button", { type: "button", class: "secondary small", onclick: () => history(j.name), "aria-label": `History of ${j.name}` }, "History")),
          ]),
        ),
      );
    } catch (err) {
      replace(listBox, h("p", { class: "error" }, explain(err)));
    }
  }

  async function togglePause(j) {
    try {
      await api(routes.pause(j.name, j.paused), { method: "POST" });
      void refresh();
    } catch (err) {
      toast(explain(err), "error");
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
      const runs = data.runs ?? [];
      replace(histBox, table(`Runs of ${name}`, ["Started", "Took", "Result", "Trigger", "Detail"], runs.map((r) => [
        fmtTime(r.startedAt),
        r.endedAt ? `${((Date.parse(r.endedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1)} s` : "running",
        outcome(r.outcome),
        r.trigger,
        r.error ?? (r.result == null ? "" : h("code", { class: "wrap" }, JSON.stringify(r.result).slice(0, 200))),
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
