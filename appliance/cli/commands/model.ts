import type { Command } from "commander";
import { ModelRegistry } from "../../../services/inference/ModelRegistry.js";
import { defaultModelsDir } from "../../../services/inference/InferenceService.js";
import { pullModel } from "../../../services/inference/pullModel.js";
import { printResult } from "../output.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";

function registryFrom(opts: Record<string, unknown>): ModelRegistry {
  const { config } = configFromFlags(opts);
  return new ModelRegistry(config["inference.modelsDir"] ?? defaultModelsDir(config["paths.dataDir"]));
}

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

const KEYS = ["paths.dataDir", "inference.modelsDir"];

/** `sovereign model add|pull|list|rm|retry|verify`: the model registry from the shell (the node need not run). */
export function registerModelCommand(program: Command): void {
  const model = program.command("model").description("Install, list, verify and remove models (GGUF chat models, ONNX or GGUF embedding models).");

  addSettingFlags(model.command("add <file>").description("Validate, hash and install a .gguf file (or a folder with model.onnx and tokenizer.json)."), KEYS)
    .option("--name <name>", "model name (default: the file name)")
    .option("--sha256 <hex>", "refuse the file unless its sha256 is this")
    .option("--kind <kind>", "llm or embedding (default: from the GGUF header)")
    .option("--tokenizer <dir>", "for an .onnx file: the folder with tokenizer.json")
    .option("--json", "machine-readable output")
    .action(async (file: string, opts: Record<string, unknown>) => {
      const entry = await registryFrom(opts).add(file, {
        ...(typeof opts.name === "string" ? { name: opts.name } : {}),
        ...(typeof opts.sha256 === "string" ? { sha256: opts.sha256 } : {}),
        ...(opts.kind === "llm" || opts.kind === "embedding" ? { kind: opts.kind } : {}),
        ...(typeof opts.tokenizer === "string" ? { tokenizerDir: opts.tokenizer } : {}),
      });
      printResult(Boolean(opts.json), entry, () => `installed ${entry.name}: ${entry.architecture}, ${entry.quantization ?? "?"}, ${mb(entry.size)}, sha256 ${entry.sha256}`);
    });

  addSettingFlags(model.command("pull <url>").description("Download a model (resumable), check its sha256 and install it."), KEYS)
    .requiredOption("--sha256 <hex>", "the expected sha256 (required: nothing unverified is installed)")
    .option("--name <name>", "model name (default: the file name in the URL)")
    .option("--kind <kind>", "llm or embedding")
    .option("--json", "machine-readable output (progress as JSON lines on stderr)")
    .action(async (url: string, opts: Record<string, unknown>) => {
      const json = Boolean(opts.json);
      const entry = await pullModel(registryFrom(opts), url, {
        sha256: String(opts.sha256),
        ...(typeof opts.name === "string" ? { name: opts.name } : {}),
        ...(opts.kind === "llm" || opts.kind === "embedding" ? { kind: opts.kind } : {}),
        onProgress: (p) => {
          if (json) process.stderr.write(`${JSON.stringify({ progress: p })}\n`);
          else process.stderr.write(`\r${mb(p.received)}${p.total ? ` of ${mb(p.total)} (${Math.floor((p.received / p.total) * 100)}%)` : ""}${p.resumedFrom ? `, resumed at ${mb(p.resumedFrom)}` : ""}   `);
        },
      });
      if (!json) process.stderr.write("\n");
      printResult(json, entry, () => `installed ${entry.name} (${mb(entry.size)}, sha256 verified)`);
    });

  addSettingFlags(model.command("list").description("List installed models."), KEYS)
    .option("--json", "machine-readable output")
    .action((opts: Record<string, unknown>) => {
      const models = registryFrom(opts).list();
      printResult(Boolean(opts.json), { models }, () =>
        models.length === 0
          ? "no models installed"
          : models.map((m) => `${m.name.padEnd(28)} ${m.kind.padEnd(9)} ${m.architecture.padEnd(12)} ${(m.quantization ?? "-").padEnd(7)} ${mb(m.size).padStart(10)}  ctx ${m.contextLength ?? "-"}${m.quarantine ? `\n${"".padEnd(29)}QUARANTINED since ${m.quarantine.at}: ${m.quarantine.reason} (retry: sovereign model retry ${m.name})` : ""}`).join("\n"),
      );
    });

  addSettingFlags(model.command("rm <name>").description("Remove an installed model and its file."), KEYS)
    .option("--json", "machine-readable output")
    .action((name: string, opts: Record<string, unknown>) => {
      const removed = registryFrom(opts).remove(name);
      printResult(Boolean(opts.json), { removed }, () => `removed ${removed.name}`);
    });

  addSettingFlags(model.command("retry <name>").description("Lift a model's quarantine (it crashed its runner): the node loads it again on the next request."), KEYS)
    .option("--json", "machine-readable output")
    .action((name: string, opts: Record<string, unknown>) => {
      const registry = registryFrom(opts);
      const before = registry.get(name);
      const entry = registry.clearQuarantine(name);
      printResult(Boolean(opts.json), { model: entry, wasQuarantined: before.quarantine ?? null }, () =>
        before.quarantine ? `${name}: quarantine lifted (it was: ${before.quarantine.reason}); the next request loads it` : `${name} was not quarantined`);
    });

  addSettingFlags(model.command("verify [name]").description("Re-check installed files: GGUF structure and sha256 against the manifest."), KEYS)
    .option("--json", "machine-readable output")
    .action(async (name: string | undefined, opts: Record<string, unknown>) => {
      const results = await registryFrom(opts).verify(name);
      const ok = results.every((r) => r.ok);
      printResult(Boolean(opts.json), { ok, results }, () => results.map((r) => `${r.ok ? "ok  " : "FAIL"} ${r.name}${r.problem ? `: ${r.problem}` : ""}`).join("\n") || "no models installed");
      if (!ok) process.exitCode = 1;
    });
}
