// Rebuilds web-ui/static/vendor/markdown.js: the chat's Markdown renderer (marked), its
// sanitizer (DOMPurify) and a small syntax highlighter (@speed-highlight/core),
// as one minified ES module the panel imports (no build step at run time, no CDN).
// Versions are pinned here; `npm pack` checks each tarball against the registry's
// integrity hash. Run: node --import tsx scripts/vendor-ui.ts
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { buildSync } from "esbuild";

const packages = { marked: "18.2.1", dompurify: "3.4.18", "@speed-highlight/core": "2.1.0" } as const;
// Highlighted languages (speed-highlight's names); the rest render as plain code.
const languages = ["py", "js", "ts", "bash", "json", "html", "xml", "yaml", "c", "rs", "go", "sql", "css", "diff", "ini", "toml", "docker", "java", "todo", "jsdoc", "regex"];

const root = join(import.meta.dirname, "..");
const out = join(root, "web-ui", "static", "vendor");
const tmp = mkdtempSync(join(tmpdir(), "vendor-ui-"));
try {
  const modules = join(tmp, "node_modules");
  for (const [name, version] of Object.entries(packages)) {
    const tgz = execFileSync("npm", ["pack", `${name}@${version}`, "--silent", "--pack-destination", tmp], { encoding: "utf8" }).trim().split("\n").pop() as string;
    const dir = join(modules, name);
    mkdirSync(dir, { recursive: true });
    execFileSync("tar", ["xzf", join(tmp, tgz), "-C", dir, "--strip-components=1"]);
  }
  const entry = [
    `export { Marked } from "marked";`,
    `export { default as DOMPurify } from "dompurify";`,
    `export { tokenizeWith } from "@speed-highlight/core/tokenize";`,
    ...languages.map((l) => `import l_${l} from "@speed-highlight/core/languages/${l}.js";`),
    `export const languages = { ${languages.map((l) => `${JSON.stringify(l)}: l_${l}`).join(", ")} };`,
  ].join("\n");
  mkdirSync(join(out, "licenses"), { recursive: true });
  buildSync({
    stdin: { contents: entry, resolveDir: tmp, sourcefile: "markdown-entry.js" },
    bundle: true, minify: true, format: "esm", target: "es2022", legalComments: "eof",
    nodePaths: [modules], outfile: join(out, "markdown.js"),
    banner: { js: `// Vendored by scripts/vendor-ui.ts: ${Object.entries(packages).map(([n, v]) => `${n}@${v}`).join(", ")}. Licenses in ./licenses/.` },
  });
  for (const name of Object.keys(packages)) copyFileSync(join(modules, name, "LICENSE"), join(out, "licenses", `${name.replace("/", "__")}.txt`));
  writeFileSync(join(out, "versions.json"), `${JSON.stringify(packages, null, 2)}\n`);
  const { length } = gzipSync(execFileSync("cat", [join(out, "markdown.js")]), { level: 9 });
  console.log(`wrote web-ui/static/vendor/markdown.js (${length} B gzipped)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
