import type { Command } from "commander";
import { gatherNodeInfo, renderNodeInfo } from "../../nodeInfo.js";
import { printResult } from "../output.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";

/** `sovereign node`: who this node is and how it is doing, for the console and for scripts. */
export function registerNodeCommand(program: Command): void {
  addSettingFlags(
    program.command("node").description("Show the node's id, fingerprint, version, URLs, certificate fingerprint, claim state, update slot and health."),
  )
    .option("--json", "machine-readable output")
    .action(async (opts: Record<string, unknown>) => {
      const { config } = configFromFlags(opts);
      const info = await gatherNodeInfo(config);
      printResult(Boolean(opts.json), info, () => renderNodeInfo(info));
    });
}
