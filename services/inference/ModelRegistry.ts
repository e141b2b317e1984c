import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync, cpSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { SovereignError } from "../../core/errors/SovereignError.js";
import { readGguf } from "../../core/gguf/readGguf.js";
import { checkHyperparameters } from "../../core/gguf/checkHyperparameters.js";
import { sha256File } from "../../core/fs/sha256File.js";
import { checkModelName, ggufModelEntry, type ModelEntry, type Quarantine } from "../../core/models/modelEntry.js";

// The manifest's entry and name rule are core's, shared with the image builder's models step.
export type { ModelEntry } from "../../core/models/modelEntry.js";

export interface AddOptions {
  name?: string;
  kind?: "llm" | "embedding";
  /** Refuse the file unless its sha256 is this (lowercase hex). */
  sha256?: string;
  /** Move the file in (it is a temp file of ours) instead of copying it. */
  move?: boolean;
  /** For an .onnx file: the folder with tokenizer.json. */
  tokenizerDir?: string;
  source?: string;
}

export interface VerifyResult {
  name: string;
  ok: boolean;
  problem?: string;
}

/** The error a request for a quarantined model gets, with the reason it was quarantined. */
export function quarantined(entry: ModelEntry): SovereignError {
  const q = entry.quarantine;
  return new SovereignError("MODEL_QUARANTINED", `"${entry.name}" is quarantined since ${q?.at ?? "?"}: ${q?.reason ?? "it crashed its runner"}.`, {
    details: { model: entry.name, reason: q?.reason ?? null, signal: q?.signal ?? null, crashes: q?.crashes ?? null },
    hint: `Retry it with \`sovereign model retry ${entry.name}\` (POST /api/models/${entry.name}/retry), or remove it.`,
  });
}


/**
 * The installed models: files in one directory plus manifest.json. Every
 * write lands under a temp name first and is renamed into place, so a crash
 * or failed check never leaves a half model under a real name.
 */
export class ModelRegistry {
  readonly dir: string;
  readonly partialDir: string;
  private readonly manifestPath: string;

  constructor(dir: string) {
    this.dir = dir;
    this.partialDir = join(dir, ".partial");
    this.manifestPath = join(dir, "manifest.json");
    mkdirSync(this.partialDir, { recursive: true, mode: 0o700 });
  }

  list(): ModelEntry[] {
    return this.read().models;
  }

  /** The chat model an admin chose as default (kept in the manifest), if it is still installed and not quarantined. */
  getDefault(): string | null {
    const { models, defaultModel } = this.read();
    return defaultModel !== null && models.some((m) => m.name === defaultModel && m.kind === "llm" && !m.quarantine) ? defaultModel : null;
  }

  /** Marks a model quarantined (it crashed its runner), keeping the reason for `model list` and the API. */
  quarantine(name: string, q: Omit<Quarantine, "at">): ModelEntry {
    const entry: ModelEntry = { ...this.get(name), quarantine: { ...q, at: new Date().toISOString() } };
    this.save(this.list().map((e) => (e.name === name ? entry : e)));
    return entry;
  }

  /** Lifts a quarantine (an admin's retry); the next request loads the model again. */
  clearQuarantine(name: string): ModelEntry {
    const { quarantine: _dropped, ...entry } = this.get(name);
    this.save(this.list().map((e) => (e.name === name ? entry : e)));
    return entry;
  }

  /** Persists the default chat model across restarts; refuses an unknown or non-chat model. */
  setDefault(name: string): ModelEntry {
    const entry = this.get(name);
    if (entry.kind !== "llm") throw new SovereignError("MODEL_WRONG_KIND", `"${name}" is an embedding model; only a chat model can be the default.`, { details: { model: name } });
    if (entry.quarantine) throw quarantined(entry);
    this.save(this.list(), name);
    return entry;
  }

  private read(): { models: ModelEntry[]; defaultModel: string | null } {
    if (!existsSync(this.manifestPath)) return { models: [], defaultModel: null };
    try {
      const parsed = JSON.parse(readFileSync(this.manifestPath, "utf8")) as { models?: ModelEntry[]; defaultModel?: string | null };
      return { models: Array.isArray(parsed.models) ? parsed.models : [], defaultModel: typeof parsed.defaultModel === "string" ? parsed.defaultModel : null };
    } catch (err) {
      throw new SovereignError("INTERNAL", `The model manifest ${this.manifestPath} is unreadable.`, { cause: err });
    }
  }

  get(name: string): ModelEntry {
    const m = this.list().find((e) => e.name === name);
    if (!m) throw new SovereignError("MODEL_NOT_FOUND", `No installed model is named "${name}".`, { details: { model: name } });
    return m;
  }

  has(name: string): boolean {
    return this.list().some((e) => e.name === name);
  }

  /** Absolute path of the model's file (the .gguf, or model.onnx's folder). */
  pathOf(entry: ModelEntry): string {
    return join(this.dir, entry.file);
  }

  private save(models: ModelEntry[], defaultModel: string | null = this.read().defaultModel): void {
    const tmp = `${this.manifestPath}.${randomBytes(4).toString("hex")}.tmp`;
    // A removed default model stops being the default.
    const keep = defaultModel !== null && models.some((m) => m.name === defaultModel) ? defaultModel : null;
    writeFileSync(tmp, `${JSON.stringify({ version: 1, defaultModel: keep, models }, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.manifestPath);
  }

  /** A fresh temp path inside the models dir (same filesystem, so rename is atomic). */
  tempPath(suffix = ".part"): string {
    return join(this.partialDir, `${Date.now()}-${randomBytes(6).toString("hex")}${suffix}`);
  }

  /** Validates, hashes and installs a model file (or ONNX folder). */
  async add(src: string, options: AddOptions = {}): Promise<ModelEntry> {
    if (!existsSync(src)) throw new SovereignError("MODEL_FILE_MISSING", `${src} does not exist.`);
    const isDir = statSync(src).isDirectory();
    const isOnnx = isDir || extname(src).toLowerCase() === ".onnx";
    const name = checkModelName(options.name ?? basename(src).replace(/\.(gguf|onnx)$/i, ""));
    if (this.has(name)) throw new SovereignError("MODEL_EXISTS", `A model named "${name}" is already installed.`, { details: { model: name } });
    return isOnnx ? this.addOnnx(src, isDir, name, options) : this.addGguf(src, name, options);
  }

  private async checkSha(path: string, expected: string | undefined): Promise<string> {
    const actual = await sha256File(path);
    if (expected !== undefined && actual !== expected.toLowerCase())
      throw new SovereignError("MODEL_CHECKSUM_MISMATCH", `sha256 mismatch: expected ${expected.toLowerCase()}, got ${actual}.`, { details: { expected: expected.toLowerCase(), actual } });
    return actual;
  }

  private async addGguf(src: string, name: string, options: AddOptions): Promise<ModelEntry> {
    const info = readGguf(src);
    checkHyperparameters(info);
    const sha256 = await this.checkSha(src, options.sha256);
    const file = `${name}.gguf`;
    const dest = join(this.dir, file);
    if (options.move) renameSync(src, dest);
    else {
      const tmp = this.tempPath();
      copyFileSync(src, tmp);
      renameSync(tmp, dest);
    }
    const entry = ggufModelEntry(info, { name, file, sha256, ...(options.kind ? { kind: options.kind } : {}), ...(options.source ? { source: options.source } : {}) });
    this.save([...this.list().filter((e) => e.name !== name), entry]);
    return entry;
  }

  private async addOnnx(src: string, isDir: boolean, name: string, options: AddOptions): Promise<ModelEntry> {
    const modelFile = isDir ? join(src, "model.onnx") : src;
    const tokDir = isDir ? src : options.tokenizerDir;
    if (!tokDir || !existsSync(join(tokDir, "tokenizer.json")))
      throw new SovereignError("MODEL_FILE_MISSING", "An ONNX embedding model needs its tokenizer.json.", { hint: "Pass a folder with model.onnx and tokenizer.json, or --tokenizer DIR." });
    if (!existsSync(modelFile)) throw new SovereignError("MODEL_FILE_MISSING", `${modelFile} does not exist.`);
    const { OnnxEmbedder } = await import("./embeddings/OnnxEmbedder.js");
    const sha256 = await this.checkSha(modelFile, options.sha256);
    const tmp = this.tempPath("");
    mkdirSync(tmp, { recursive: true });
    try {
      copyFileSync(modelFile, join(tmp, "model.onnx"));
      for (const f of ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json"])
        if (existsSync(join(tokDir, f))) cpSync(join(tokDir, f), join(tmp, f));
      const probe = await OnnxEmbedder.load(tmp, { threads: 1 });
      await probe.embed(["probe"]);
      const dims = probe.dimensions;
      await probe.dispose();
      renameSync(tmp, join(this.dir, name));
      const entry: ModelEntry = {
        name, kind: "embedding", format: "onnx", file: name, sha256, size: statSync(modelFile).size,
        architecture: dims ? `sentence-transformer (${dims} dims)` : "sentence-transformer",
        parameters: null, quantization: null, contextLength: 512, license: null, addedAt: new Date().toISOString(),
        ...(options.source ? { source: options.source } : {}),
      };
      this.save([...this.list().filter((e) => e.name !== name), entry]);
      if (options.move && !isDir) rmSync(src, { force: true });
      return entry;
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  remove(name: string): ModelEntry {
    const entry = this.get(name);
    this.save(this.list().filter((e) => e.name !== name));
    rmSync(this.pathOf(entry), { recursive: true, force: true });
    return entry;
  }

  /** Re-hashes and re-validates installed files against the manifest. */
  async verify(name?: string): Promise<VerifyResult[]> {
    const entries = name ? [this.get(name)] : this.list();
    const results: VerifyResult[] = [];
    for (const e of entries) {
      const path = e.format === "onnx" ? join(this.pathOf(e), "model.onnx") : this.pathOf(e);
      try {
        if (!existsSync(path)) throw new Error(`file ${path} is missing`);
        if (e.format === "gguf") checkHyperparameters(readGguf(path));
        const sha = await sha256File(path);
        if (sha !== e.sha256) throw new Error(`sha256 is ${sha}, manifest says ${e.sha256}`);
        results.push({ name: e.name, ok: true });
      } catch (err) {
        results.push({ name: e.name, ok: false, problem: (err as Error).message });
      }
    }
    return results;
  }
}
