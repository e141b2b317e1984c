import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { gzipSync } from "node:zlib";

/** One shipped file, held in memory with its gzip form (the whole app is a few tens of KB). */
export interface Asset {
  path: string;
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json; charset=utf-8",
  ".png": "image/png",
  ".woff2": "font/woff2",
};

/** Where the static app lives: beside this file in a checkout, or back in the source tree when run from dist/. */
export function staticDir(): string {
  const candidates = [join(import.meta.dirname, "static"), join(import.meta.dirname, "..", "..", "web-ui", "static")];
  const found = candidates.find((d) => existsSync(join(d, "index.html")));
  if (!found) throw new Error(`web-ui static files not found (looked in ${candidates.join(", ")})`);
  return found;
}

/**
 * Reads every file under `dir` once. Requests are answered from this map
 * only, so no request path ever reaches the filesystem (no traversal to refuse).
 */
export function loadAssets(dir: string = staticDir()): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const type = types[extname(name)];
        if (!type) continue;
        const body = readFileSync(full);
        const path = relative(dir, full).split(sep).join("/");
        assets.set(path, { path, type, body, gzip: gzipSync(body, { level: 9 }), etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` });
      }
    }
  };
  walk(dir);
  return assets;
}

/** What the UI costs a browser: JS and CSS, raw and gzipped (the budget is 100 KB gzipped). */
export function shippedSize(assets: Map<string, Asset>): { files: number; rawBytes: number; gzipBytes: number } {
  let files = 0;
  let rawBytes = 0;
  let gzipBytes = 0;
  for (const a of assets.values()) {
    if (!a.path.endsWith(".js") && !a.path.endsWith(".css")) continue;
    files++;
    rawBytes += a.body.length;
    gzipBytes += a.gzip.length;
  }
  return { files, rawBytes, gzipBytes };
}
