// A fresh node for one RSS measurement (bench/runner.bench.ts): builds the app on a temp data dir in
// engine mode argv[2], installs argv[3] as "m", loads it when argv[4] is "load", lets memory settle,
// and prints {"nodeRssBytes", "runners"} as one JSON line. The process is fresh, so nothing else inflates it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp } from "../../appliance/app.js";
import { resolveConfig } from "../../appliance/config/resolveConfig.js";
import { detectHardware } from "../../hardware/detectHardware.js";
import { tuneForConfig } from "../../hardware/tuneForConfig.js";

const [mode = "runner", modelPath = "", load = ""] = process.argv.slice(2);
const dataDir = mkdtempSync(join(tmpdir(), "sovereign-rss-"));
const hardware = await detectHardware();
const { config } = resolveConfig({ env: {}, flags: { "paths.dataDir": dataDir, "log.level": "silent", "inference.engineMode": mode, "inference.idleUnloadMinutes": 0, "tuning.contextSize": 2048, "tuning.parallelSequences": 1 } });
const app = await buildApp({ config, hardware, tuning: tuneForConfig(hardware.facts, config), logger: false });
await app.ready();
await app.inference.registry.add(modelPath, { name: "m" });
if (load === "load") {
  await app.inference.load("m");
  await app.inference.generate({ model: "m", prompt: "the dog ran", sampling: { maxTokens: 8, temperature: 0 } });
}
global.gc?.();
await new Promise((r) => setTimeout(r, 1000));
const out = { nodeRssBytes: process.memoryUsage().rss, runners: app.inference.status().runners };
await app.close();
rmSync(dataDir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(out)}\n`);
