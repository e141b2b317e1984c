import { Command } from "commander";
import { commandModules } from "./commands/index.js";
import { exitWithError } from "./output.js";

const program = new Command()
  .name("sovereign")
  .description("Sovereign Node: an offline AI appliance (local LLM, memory, federation) and its image builder.")
  .showHelpAfterError("(run with --help for usage)")
  .enablePositionalOptions();

for (const register of commandModules) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  exitWithError(err, process.argv.includes("--json"));
}
