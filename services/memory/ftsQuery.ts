/** Most words a query may contribute to FTS; longer queries keep their first words. */
const MAX_TERMS = 32;
const MAX_TERM_CHARS = 64;

/**
 * Turns free text into a safe FTS5 MATCH expression. Users type quotes,
 * `NEAR`, `*`, `-`, `AND`/`OR`, colons and brackets without meaning FTS5
 * syntax; every word is quoted as a literal, so nothing in the input can be
 * parsed as an operator. Words are OR-ed: BM25 ranks documents with more of
 * them higher. Returns null when the text has no searchable word.
 */
export function toFtsQuery(text: string): string | null {
  const terms = ftsTerms(text);
  if (terms.length === 0) return null;
  return terms.map((t) => `"${t}"`).join(" OR ");
}

/** The words of a query as the FTS5 unicode61 tokenizer would see them (letters, digits, marks). */
export function ftsTerms(text: string): string[] {
  const seen = new Set<string>();
  for (const m of text.normalize("NFKC").matchAll(/[\p{L}\p{N}\p{M}_]+/gu)) {
    const word = m[0].toLowerCase().slice(0, MAX_TERM_CHARS);
    seen.add(word);
    if (seen.size >= MAX_TERMS) break;
  }
  return [...seen];
}
