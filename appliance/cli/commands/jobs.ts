import type { Command } from "commander";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { assertNotRunning } from "../../../services/db/backups.js";
import { dbPathOf } from "../../../services/db/dbPlugin.js";
import { openForCli } from "../../../services/memory/cliAccess.js";
import { buildApp } from "../../app.js";
import { detectHardware } from "../../../hardware/detectHardware.js";
import { tuneForConfig } from "../../../hardware/tuneForConfig.js";
import { printResult } from "../output.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";

type Opts = Record<string, unknown>;

function withJobs<T>(opts: Opts, fn: (m: ReturnType<typeof openForCli>) => T): T {
  const { config } = configFromFlags(opts);
  const m = openForCli(config);
  try {
    return fn(m);
  } finally {
    m.close();
  }
}

function known(m: ReturnType<typeof openForCli>, name: string): void {
  if (!m.jobs.known(name)) throw new SovereignError("JOB_NOT_FOUND", `No job named "${name}".`, { details: { known: m.jobs.names() } });
}

/** `sovereign jobs`: list, history, pause, resume (these work beside a running node) and run (node stopped). */
export function registerJobsCommand(program: Command): void {
  const jobs = program.command("jobs").description("Scheduled jobs: list, history, pause, resume, run now.");
  const common = (c: Command): Command => addSettingFlags(c, ["paths.dataDir"]).option("--json", "machine-readable output");

  common(jobs.command("list", { isDefault: true }).description("Each job with its pause state and last run.")).action((opts: Opts) => {
    const rows = withJobs(opts, (m) => m.jobs.names().map((name) => ({ name, paused: m.jobs.isPaused(name), running: m.jobs.leaseHeld(name), lastRun: m.jobs.lastRun(name) ?? null })));
    printResult(Boolean(opts.json), rows, () =>
      rows.length === 0
        ? "no jobs yet (they are registered when the node first starts)"
        : rows.map((r) => `${r.name.padEnd(20)} ${r.paused ? "paused " : "active "} ${r.running ? "running " : ""}${r.lastRun ? `last: ${r.lastRun.outcome} at ${r.lastRun.startedAt}` : "never run"}`).join("\n"),
    );
  });

  common(jobs.command("runs [name]").description("Recent runs (of one job, or all)."))
    .option("--limit <n>", "how many", "20")
    .action((name: string | undefined, opts: Opts) => {
      const runs = withJobs(opts, (m) => m.jobs.runs({ ...(name ? { job: name } : {}), limit: Number(opts.limit) || 20 }));
      printResult(Boolean(opts.json), runs, () =>
        runs.map((r) => `#${r.id} ${r.job.padEnd(20)} ${r.outcome.padEnd(11)} ${r.startedAt} → ${r.endedAt ?? "…"}${r.error ? `  ${r.error}` : ""}`).join("\n") || "no runs",
      );
    });

  for (const [cmd, paused] of [["pause", true], ["resume", false]] as const) {
    common(jobs.command(`${cmd} <name>`).description(paused ? "Stop a job's scheduled runs (run-now still works)." : "Let a paused job run on its schedule again.")).action(
      (name: string, opts: Opts) => {
        withJobs(opts, (m) => {
          known(m, name);
          m.jobs.setPaused(name, paused);
        });
        printResult(Boolean(opts.json), { name, paused }, () => `${name} ${paused ? "paused" : "resumed"}`);
      },
    );
  }

  common(jobs.command("run <name>").description("Run a job now in this process (with the node stopped; otherwise use the web UI or POST /api/jobs/NAME/run).")).action(
    async (name: string, opts: Opts) => {
      const { config } = configFromFlags(opts);
      assertNotRunning(dbPathOf(config["paths.dataDir"]));
      const hardware = await detectHardware();
      const app = await buildApp({ config: { ...config, "scheduler.enabled": false }, hardware, tuning: tuneForConfig(hardware.facts, config), logger: false });
      try {
        await app.ready();
        const run = await app.scheduler.runNow(name).done;
        printResult(Boolean(opts.json), run, () => `#${run.id} ${run.job}: ${run.outcome}${run.error ? ` (${run.error})` : ""}\n${JSON.stringify(run.result, null, 2)}`);
        if (run.outcome !== "ok") process.exitCode = 1;
      } finally {
        await app.close();
      }
    },
  );
}
