/**
 * Search words for the picker's emoji, English and Traditional Chinese (Taiwan), separated by
 * spaces: `searchEmoji` finds an emoji when every word of the query starts one of its words
 * (English) or appears in one (Chinese, which is not split into words). Loaded with the
 * picker, not with the first screen. The words are data (emoji-keywords.json), like the
 * catalogs: no Chinese text in the code.
 */
import KEYWORDS from './emoji-keywords.json';

const K: Readonly<Record<string, string>> = KEYWORDS;

/** Words of a query: lowercase, split on spaces (either width). */
export function queryWords(query: string): string[] {
  return query
    .toLowerCase()
    .split(/[\s\u3000]+/)
    .filter((w) => w !== '');
}

const isAscii = (w: string): boolean => /^[\x20-\x7e]+$/.test(w);

/** How well the emoji matches every word of the query: 0 not at all, more for whole words. */
export function emojiScore(emoji: string, words: readonly string[]): number {
  const k = K[emoji];
  if (!k || words.length === 0) return 0;
  const mine = k.split(' ');
  let score = 1;
  for (const w of words) {
    if (emoji === w || mine.includes(w)) score += 2;
    else if (!mine.some((m) => (isAscii(w) ? m.startsWith(w) : m.includes(w)))) return 0;
  }
  return score;
}

/** The emoji of `list` matching the query, whole-word matches first, otherwise in list order. */
export function searchEmoji(list: readonly string[], query: string): string[] {
  const words = queryWords(query);
  return list
    .map((e, i) => ({ e, i, s: emojiScore(e, words) }))
    .filter((x) => x.s > 0)
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .map((x) => x.e);
}

export function hasKeywords(emoji: string): boolean {
  return K[emoji] !== undefined;
}
