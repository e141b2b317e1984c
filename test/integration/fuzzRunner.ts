import type { FastifyInstance } from "fastify";
import type { FuzzCase } from "./fuzzCorpus.js";

export interface FuzzReport {
  cases: number;
  statuses: Record<string, number>;
  kinds: Record<string, number>;
  serverErrors: number;
  serverErrorSamples: Array<{ case: FuzzCase; status: number; body: string }>;
  crashes: number;
  crashSamples: Array<{ case?: FuzzCase; error: string }>;
  routes: Set<string>;
  ms: number;
}

/** Sends each case through inject(), counting statuses, 5xx answers and anything thrown or left unhandled. */
export async function runFuzz(app: FastifyInstance, cases: Iterable<FuzzCase>, onProgress?: (n: number) => void): Promise<FuzzReport> {
  const report: FuzzReport = { cases: 0, statuses: {}, kinds: {}, serverErrors: 0, serverErrorSamples: [], crashes: 0, crashSamples: [], routes: new Set(), ms: 0 };
  const onCrash = (err: unknown) => {
    report.crashes++;
    if (report.crashSamples.length < 10) report.crashSamples.push({ error: String((err as Error)?.stack ?? err) });
  };
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
  const t0 = Date.now();
  try {
    for (const c of cases) {
      report.cases++;
      report.routes.add(c.route);
      report.kinds[c.kind] = (report.kinds[c.kind] ?? 0) + 1;
      try {
        const res = await app.inject({
          method: c.method as "GET",
          url: c.url,
          headers: c.headers,
          ...(c.payload === undefined ? {} : { payload: c.payload }),
          ...(c.remoteAddress ? { remoteAddress: c.remoteAddress } : {}),
        });
        report.statuses[res.statusCode] = (report.statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode >= 500) {
          report.serverErrors++;
          if (report.serverErrorSamples.length < 10) report.serverErrorSamples.push({ case: { ...c, payload: c.payload?.slice(0, 300) }, status: res.statusCode, body: res.body.slice(0, 500) });
        }
      } catch (err) {
        report.crashes++;
        if (report.crashSamples.length < 10) report.crashSamples.push({ case: { ...c, payload: c.payload?.slice(0, 300) }, error: String((err as Error)?.stack ?? err) });
      }
      if (onProgress && report.cases % 1000 === 0) onProgress(report.cases);
    }
  } finally {
    process.off("uncaughtException", onCrash);
    process.off("unhandledRejection", onCrash);
    report.ms = Date.now() - t0;
  }
  return report;
}
