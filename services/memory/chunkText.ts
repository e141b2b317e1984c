export interface Chunk {
  text: string;
  /** The heading path the chunk sits under ("Intro > Setup"), empty for text before any heading. */
  heading: string;
  index: number;
}

export interface ChunkOptions {
  /** Target chunk size in characters. */
  maxChars: number;
  /** Characters of the previous chunk repeated at the start of the next one. */
  overlapChars: number;
}

interface Block {
  heading: string;
  text: string;
}

/**
 * Splits text or Markdown on its structure: sections at headings, then
 * paragraphs, packed up to `maxChars`. A paragraph longer than that is cut at
 * sentence ends (or hard, as a last resort). Each chunk after the first in a
 * section starts with the tail of the previous one, so a fact cut in two is
 * still found whole in one chunk. Chunks carry their heading for context.
 */
export function chunkText(input: string, options: ChunkOptions): Chunk[] {
  const maxChars = Math.max(100, options.maxChars);
  const overlap = Math.min(Math.max(0, options.overlapChars), Math.floor(maxChars / 2));
  const blocks = splitBlocks(input.replace(/\r\n?/g, "\n"));
  const chunks: Chunk[] = [];
  let current: string[] = [];
  let currentLen = 0;
  let currentHeading = "";

  const flush = (): void => {
    if (current.length === 0) return;
    const body = current.join("\n\n").trim();
    if (body.length > 0) {
      const text = currentHeading && !body.startsWith("#") ? `${currentHeading}\n\n${body}` : body;
      chunks.push({ text, heading: currentHeading, index: chunks.length });
    }
    current = [];
    currentLen = 0;
  };

  for (const block of blocks) {
    if (block.heading !== currentHeading) {
      flush();
      currentHeading = block.heading;
    }
    for (const piece of splitLong(block.text, maxChars)) {
      if (currentLen > 0 && currentLen + piece.length + 2 > maxChars) {
        const tail = tailOf(current.join("\n\n"), overlap);
        flush();
        if (tail) {
          current.push(tail);
          currentLen = tail.length;
        }
      }
      current.push(piece);
      currentLen += piece.length + 2;
    }
  }
  flush();
  return chunks;
}

function splitBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  const path: string[] = [];
  let para: string[] = [];
  let inFence = false;
  const push = (): void => {
    const t = para.join("\n").trim();
    if (t) blocks.push({ heading: path.filter(Boolean).join(" > "), text: t });
    para = [];
  };
  for (const line of text.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const h = inFence ? null : /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      push();
      const level = (h[1] ?? "#").length;
      path.length = level - 1;
      path[level - 1] = h[2] ?? "";
      continue;
    }
    if (!inFence && line.trim() === "") push();
    else para.push(line);
  }
  push();
  return blocks;
}

/** Cuts a paragraph longer than max at sentence ends, then at spaces, then hard. */
function splitLong(text: string, max: number): string[] {
  if (text.length <= max) return [text];
  const out: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const window = rest.slice(0, max);
    let cut = Math.max(window.lastIndexOf(". "), window.lastIndexOf("! "), window.lastIndexOf("? "), window.lastIndexOf("\n"));
    if (cut < max / 3) cut = window.lastIndexOf(" ");
    if (cut < max / 3) cut = max - 1;
    out.push(rest.slice(0, cut + 1).trim());
    rest = rest.slice(cut + 1).trimStart();
  }
  if (rest.trim()) out.push(rest.trim());
  return out;
}

/** The last `n` characters of text, started at a word boundary. */
function tailOf(text: string, n: number): string {
  if (n <= 0 || text.length === 0) return "";
  if (text.length <= n) return text;
  const slice = text.slice(text.length - n);
  const space = slice.indexOf(" ");
  return (space >= 0 && space < n / 2 ? slice.slice(space + 1) : slice).trim();
}
