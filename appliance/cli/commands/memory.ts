import type { Command } from "commander";
import { createWriteStream, readFileSync, statSync } from "node:fs";
import { basename, extname } from "node:path";
import { SovereignError } from "../../../core/errors/SovereignError.js";
import { authMigrations } from "../../../services/auth/schema.js";
import { UserStore } from "../../../services/auth/UserStore.js";
import { cliUserId, openForCli, type CliMemory } from "../../../services/memory/cliAccess.js";
import { exportJsonl, importJsonl } from "../../../services/memory/jsonl.js";
import { decodeUtf8 } from "../../../services/memory/text.js";
import { printResult } from "../output.js";
import { addSettingFlags, configFromFlags } from "../settingFlags.js";

type Opts = Record<string, unknown>;
const tagsOf = (o: Opts): string[] | undefined => (typeof o.tags === "string" ? o.tags.split(",").map((t) => t.trim()).filter(Boolean) : undefined);

/** The console's user lookup: the auth service's store over the same file (memory never reads auth's tables). */
function userOf(m: CliMemory, user: unknown): string {
  m.db.migrate("auth", authMigrations);
  return cliUserId(new UserStore(m.db.sqlite), user as string | undefined);
}

function withMemory<T>(opts: Opts, fn: (m: ReturnType<typeof openForCli>, userId: string) => T): T {
  const { config } = configFromFlags(opts);
  const m = openForCli(config);
  try {
    return fn(m, userOf(m, opts.user));
  } finally {
    m.close();
  }
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function registerMemoryCommand(program: Command): void {
  const memory = program.command("memory").description("Add, import, search and export the node's long-term memory.");
  const common = (c: Command): Command =>
    addSettingFlags(c, ["paths.dataDir", "memory.maxDocumentBytes", "memory.chunkChars", "memory.chunkOverlapChars"])
      .option("--user <name>", "whose memory (user name or id; default: the node's first admin, or the local user)")
      .option("--json", "machine-readable output");

  common(memory.command("add [text...]").description("Add a note (the words given, or stdin when none)."))
    .option("--source <name>", "where it came from", "cli")
    .option("--tags <a,b>", "comma-separated tags")
    .option("--importance <0..1>", "how much it matters (default 0.5)")
    .action(async (words: string[], opts: Opts) => {
      const text = words.length > 0 ? words.join(" ") : decodeUtf8(await readStdin(), "input");
      const importance = opts.importance === undefined ? undefined : Number(opts.importance);
      if (importance !== undefined && !(importance >= 0 && importance <= 1)) throw new SovereignError("BAD_REQUEST", "--importance must be a number from 0 to 1.");
      const tags = tagsOf(opts);
      const result = withMemory(opts, ({ memory: m }, userId) =>
        m.add(userId, { text, source: String(opts.source), ...(tags ? { tags } : {}), ...(importance !== undefined ? { importance } : {}) }),
      );
      printResult(Boolean(opts.json), result, () => `added ${result.chunks} memor${result.chunks === 1 ? "y" : "ies"} (ids ${result.ids.join(", ")})`);
    });

  common(memory.command("import <file>").description("Import a text or Markdown document (chunked), or a .jsonl export."))
    .option("--source <name>", "source name (default: the file name)")
    .option("--tags <a,b>", "comma-separated tags")
    .action((file: string, opts: Opts) => {
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        throw new SovereignError("BAD_REQUEST", `Cannot read ${file}.`);
      }
      const { config } = configFromFlags(opts);
      if (extname(file).toLowerCase() === ".jsonl") {
        const result = withMemory(opts, ({ memory: m }) => {
          const r = importJsonl(m.db, decodeUtf8(readFileSync(file), "import"));
          m.episodes.record("import", `imported ${r.memories} memories and ${r.conversations} conversations from ${basename(file)}`, r);
          return r;
        });
        printResult(Boolean(opts.json), result, () => `imported ${result.memories} memories, ${result.conversations} conversations (${result.conversationsSkipped} already present), ${result.feedback} feedback`);
        return;
      }
      const max = config["memory.maxDocumentBytes"];
      if (size > max) throw new SovereignError("MEMORY_DOCUMENT_TOO_LARGE", `${file} is ${size} bytes; the limit is ${max} (memory.maxDocumentBytes).`);
      const text = decodeUtf8(readFileSync(file), `file ${file}`);
      const tags = tagsOf(opts);
      const result = withMemory(opts, ({ memory: m }, userId) =>
        m.add(userId, { text, source: typeof opts.source === "string" ? opts.source : basename(file), ...(tags ? { tags } : {}) }),
      );
      printResult(Boolean(opts.json), result, () => `imported ${file}: ${result.chunks} chunk(s), searchable by words now; embedded by the node in the background`);
    });

  common(memory.command("search <query...>").description("Search memory by words (and meaning, when the node has embedded it)."))
    .option("--limit <n>", "how many results", "10")
    .option("--tags <a,b>", "only memories with all these tags")
    .option("--source <name>", "only memories from this source")
    .action(async (words: string[], opts: Opts) => {
      const tags = tagsOf(opts);
      const { config } = configFromFlags(opts);
      const m = openForCli(config);
      try {
        const result = await m.memory.search(userOf(m, opts.user), words.join(" "), {
          limit: Number(opts.limit) || 10,
          ...(tags ? { tags } : {}),
          ...(typeof opts.source === "string" ? { source: opts.source } : {}),
        });
        printResult(Boolean(opts.json), result, () =>
          result.hits.length === 0 ? "no memories match" : result.hits.map((h) => `[${h.memory.id}] (${h.memory.source}) ${h.memory.text.replace(/\s+/g, " ").slice(0, 160)}`).join("\n"),
        );
      } finally {
        m.close();
      }
    });

  common(memory.command("export").description("Export memories, conversations and feedback as JSON lines."))
    .option("--out <file>", "write to a file instead of stdout")
    .option("--all-users", "every user's data (default: one user's)")
    .action(async (opts: Opts) => {
      const { config } = configFromFlags(opts);
      const m = openForCli(config);
      try {
        const userId = opts.allUsers ? undefined : userOf(m, opts.user);
        const out: NodeJS.WritableStream = typeof opts.out === "string" ? createWriteStream(opts.out, { mode: 0o600 }) : process.stdout;
        let n = 0;
        for (const line of exportJsonl(m.db.sqlite, userId)) {
          if (!out.write(`${line}\n`)) await new Promise<void>((r) => out.once("drain", () => r()));
          n++;
        }
        if (out !== process.stdout) {
          await new Promise<void>((resolve) => out.end(() => resolve()));
          process.stderr.write(`wrote ${n - 1} records to ${String(opts.out)}\n`);
        }
      } finally {
        m.close();
      }
    });
}
