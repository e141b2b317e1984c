import { Command } from "commander";
import { commandTable } from "./commands/index.js";
import { exitWithError } from "./output.js";
import "../errors/catalog.js";

const program = new Command()
  .name("sovereign")
  .description("Sovereign Node: an offline AI appliance (local LLM, memory, federation) and its image builder.")
  .showHelpAfterError("(run with --help for usage)")
  .enablePositionalOptions();

try {
  // A known command loads only its own module; help and typos load them all to list them.
  const named = commandTable.filter((c) => c.name === process.argv[2]);
  for (const entry of named.length > 0 ? named : commandTable) (await entry.load())(program);
  await program.parseAsync(process.argv);
} catch (err) {
  exitWithError(err, process.argv.includes("--json"));
}
