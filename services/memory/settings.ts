import { setting } from "../../core/config/setting.js";
import type { SettingValues } from "../../core/config/Config.js";

/** Settings of the memory service: search, ingest, RAG, summarization and backups. */
export const memorySettings = [
  setting.integer({
    key: "memory.maxDocumentBytes", env: "SOVEREIGN_MEMORY_MAX_DOCUMENT_BYTES", flag: "--memory-max-document-bytes", default: 4 * 1024 * 1024, min: 1024,
    help: "Largest text or Markdown document accepted for ingest, in bytes.",
  }),
  setting.integer({
    key: "memory.chunkChars", env: "SOVEREIGN_MEMORY_CHUNK_CHARS", flag: "--memory-chunk-chars", default: 1200, min: 200, max: 20_000,
    help: "Target size of a document chunk, in characters; chunks break at headings and paragraphs.",
  }),
  setting.integer({
    key: "memory.chunkOverlapChars", env: "SOVEREIGN_MEMORY_CHUNK_OVERLAP", flag: "--memory-chunk-overlap", default: 200, min: 0, max: 5000,
    help: "Characters of the previous chunk repeated at the start of the next one.",
  }),
  setting.enum({
    key: "memory.vectorSearch", env: "SOVEREIGN_MEMORY_VECTOR_SEARCH", flag: "--memory-vector-search",
    values: ["exact", "binary"] as const, default: "binary",
    help: "Vector side of hybrid search: \"binary\" scans 1-bit codes and re-ranks the best 20×k exactly (about 4× faster at 100k memories, same top 10 as exact in the bench); \"exact\" scans every vector (the reference).",
  }),
  setting.integer({
    key: "memory.shortTermTtlMinutes", env: "SOVEREIGN_MEMORY_SHORT_TERM_TTL", flag: "--memory-short-term-ttl", default: 240, min: 1,
    help: "How long short-term (per-session) memory lives after its last write.",
  }),
  setting.integer({
    key: "memory.ragTokenBudget", env: "SOVEREIGN_MEMORY_RAG_TOKENS", flag: "--memory-rag-tokens", default: 800, min: 50, max: 100_000,
    help: "Default token budget for memory context put into a prompt.",
  }),
  setting.optionalString({
    key: "memory.summarizeSchedule", env: "SOVEREIGN_SUMMARIZE_SCHEDULE", flag: "--summarize-schedule",
    help: "Cron schedule of night-time summarization. \"auto\" uses the tuned job window.",
  }),
  setting.integer({
    key: "memory.summarizeAfterHours", env: "SOVEREIGN_SUMMARIZE_AFTER_HOURS", flag: "--summarize-after-hours", default: 12, min: 0,
    help: "A conversation is summarized once it has been quiet this long.",
  }),
  setting.integer({
    key: "memory.summarizeMaxMinutes", env: "SOVEREIGN_SUMMARIZE_MAX_MINUTES", flag: "--summarize-max-minutes", default: 60, min: 1, max: 1440,
    help: "Time bound of one summarization run; the next run resumes where it stopped.",
  }),
  setting.optionalString({
    key: "memory.backupSchedule", env: "SOVEREIGN_BACKUP_SCHEDULE", flag: "--backup-schedule",
    help: "Cron schedule of the nightly backup. \"auto\" uses the tuned job window.",
  }),
  setting.integer({
    key: "memory.backupKeep", env: "SOVEREIGN_BACKUP_KEEP", flag: "--backup-keep", default: 7, min: 1, max: 1000,
    help: "How many backups are kept; older ones are deleted after each new backup.",
  }),
] as const;

declare module "../../core/config/Config.js" {
  interface Config extends SettingValues<typeof memorySettings> {}
}
