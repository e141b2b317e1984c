// `npm run bench [name...]`: runs each bench/<name>.bench.ts in its own process, one after another
// (never in parallel: these machines are small and noisy).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dirname;
const wanted = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .map((f) => f.replace(/\.bench\.ts$/, ""))
  .filter((n) => wanted.length === 0 || wanted.includes(n))
  .sort();
let failed = 0;
for (const name of benches) {
  console.log(`\n== bench ${name}`);
  const r = spawnSync(process.execPath, ["--import", "tsx", join(dir, `${name}.bench.ts`)], { stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    console.log(`== bench ${name} FAILED (exit ${r.status})`);
  }
}
process.exit(failed > 0 ? 1 : 0);
