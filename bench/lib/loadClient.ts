// The load generator, run as its own process by bench/load.bench.ts so the client never shares
// the server's event loop: autocannon over a mix of API routes, printing its result as JSON.
import autocannon from "autocannon";

const [url, key, rate, duration, connections] = process.argv.slice(2);
if (!url || !key) throw new Error("usage: loadClient URL KEY [rate|0] [seconds] [connections]");
const headers = { authorization: `Bearer ${key}`, host: "localhost" };
const mix = [
  { method: "GET", path: "/api/status" },
  { method: "GET", path: "/healthz" },
  { method: "GET", path: "/api/memory/search?q=garden%20notes&limit=5" },
  { method: "GET", path: "/api/conversations" },
  { method: "GET", path: "/api/audit?limit=20" },
  { method: "GET", path: "/api/models" },
  { method: "GET", path: "/api/jobs" },
  { method: "POST", path: "/api/memory", body: JSON.stringify({ text: "The tomatoes in the east bed need water on Tuesdays.", tags: ["garden"] }), headers: { ...headers, "content-type": "application/json" } },
  { method: "GET", path: "/metrics" },
] as const;

const overallRate = Number(rate ?? 50);
const result = await autocannon({
  url,
  headers,
  connections: Number(connections ?? 10),
  duration: Number(duration ?? 30),
  ...(overallRate > 0 ? { overallRate } : {}),
  requests: mix.map((r) => ({ method: r.method, path: r.path, ...("body" in r ? { body: r.body, headers: r.headers } : {}) })),
});
process.stdout.write(`${JSON.stringify({
  requests: result.requests.total,
  throughput: result.requests.average,
  latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.average },
  errors: result.errors,
  timeouts: result.timeouts,
  non2xx: result.non2xx,
  statusCodes: result.statusCodeStats,
  durationSec: result.duration,
})}\n`);
