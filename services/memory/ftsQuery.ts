/** Most words a query may contribute to FTS; longer queries keep their first words. */
const MAX_TERMS = 32;
const MAX_TERM_CHARS = 64;

/** Below this many memories every query is cheap, so no term is treated as common. */
export const COMMON_MIN_DOCS = 2000;
/** A term in more than this share of memories is common (Lucene's common-terms cutoff, 5%). */
export const COMMON_FRACTION = 0.05;

/** Document frequencies, as the FTS index knows them (may be slightly stale). */
export interface TermFrequencies {
  total(): number;
  docFreq(term: string): number;
}

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
  return anyOf(terms);
}

/**
 * The MATCH expressions to run, in order, for a query over a store with the
 * given term frequencies. OR-ing a word that is in most memories makes FTS5
 * rank most of the index (95 ms at 100k memories against 2 ms without it),
 * while its BM25 weight is near zero. So, as with Lucene's common-terms query,
 * common words score but do not match: the first expression matches memories
 * with a rarer word and lets the common words add to their rank; the second,
 * run only when the first matches nothing, matches memories holding every
 * common word. A query of common words alone gets only the second.
 */
export function planFtsQuery(text: string, freq: TermFrequencies): string[] {
  const terms = ftsTerms(text);
  if (terms.length === 0) return [];
  const total = freq.total();
  if (total < COMMON_MIN_DOCS) return [anyOf(terms)];
  const cutoff = total * COMMON_FRACTION;
  const common = terms.filter((t) => freq.docFreq(t) > cutoff);
  if (common.length === 0) return [anyOf(terms)];
  const rare = terms.filter((t) => !common.includes(t));
  const allCommon = common.map(quote).join(" AND ");
  if (rare.length === 0) return [allCommon];
  // Rare terms appear twice, so BM25 weighs them double: common words only break ties.
  return [`(${anyOf(rare)}) OR ((${anyOf(rare)}) AND (${anyOf(common)}))`, allCommon];
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

const quote = (t: string): string => `"${t}"`;
const anyOf = (terms: readonly string[]): string => terms.map(quote).join(" OR ");
