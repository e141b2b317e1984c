import type { Command } from "commander";
import { settings } from "../../config/settings.js";
import type { Setting } from "../../../core/config/setting.js";
import { renderConfigDocs } from "../../config/renderConfigDocs.js";
import { printResult } from "../output.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";

export function registerConfigCommand(program: Command): void {
  const config = program.command("config").description("Show the effective configuration, or the settings reference.");
  addSettingFlags(config.command("show", { isDefault: true }).description("Print every setting, its value and which layer set it."))
    .option("--json", "machine-readable output")
    .action((opts: Record<string, unknown>) => {
      const { config: cfg, sources, filePath, panelPath } = configFromFlags(opts);
      const rows = (settings as readonly Setting[]).map((s) => {
        const value: unknown = Reflect.get(cfg, s.key);
        return { key: s.key, value: s.secret && value !== null ? "[redacted]" : value, source: sources[s.key as keyof typeof sources] };
      });
      printResult(Boolean(opts.json), { file: filePath ?? null, panelFile: panelPath, settings: rows }, () =>
        [`config file: ${filePath ?? "(none)"}`, `panel settings: ${panelPath}${rows.some((r) => r.source === "panel") ? "" : " (none saved)"}`, ...rows.map((r) => `${r.key.padEnd(32)} ${JSON.stringify(r.value ?? "auto").padEnd(28)} ${r.source}`)].join("\n"),
      );
    });
  config
    .command("docs")
    .description("Print the settings reference (the text of docs/config.md).")
    .action(() => {
      process.stdout.write(renderConfigDocs());
    });
}
