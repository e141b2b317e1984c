import type { Command } from "commander";
import { runServer } from "../../server.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";

export function registerServeCommand(program: Command): void {
  const cmd = program
    .command("serve")
    .description("Run the node: detect and tune the hardware, open the database, start the services and serve HTTP.");
  addSettingFlags(cmd).action(async (opts: Record<string, unknown>) => {
    const { config, sources } = configFromFlags(opts);
    await runServer(config, { sources });
  });
}
