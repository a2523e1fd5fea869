/**
 * Search over what this device holds decrypted (issue 15 item 3): chats (friends by alias or
 * name, groups by name or topic) and message texts of 1:1 chats and groups. Matching is a plain
 * substring after Unicode NFKC normalisation and case folding: Chinese and other scripts match
 * without any word splitting, Latin letters (and full-width ones, by NFKC) regardless of case,
 * and every character of the query counts literally: no pattern syntax, so regular expression
 * metacharacters, controls and bidirectional marks are just characters to find.
 */
import { UsageError } from '@parus/core';
import type { GroupInfo } from './groups/engine-context.ts';
import type { ContactInfo, MessageInfo } from './public-shapes.ts';

/** Longest query, in code points. */
export const MAX_SEARCH_CHARS = 256;
export const DEFAULT_SEARCH_LIMIT = 50;
export const MAX_SEARCH_LIMIT = 500;

export type SearchHit =
  | { kind: 'contact'; alias: string; name: string }
  | { kind: 'group'; group: string; name: string }
  | {
      kind: 'message';
      /** The contact's alias, or for a group message the group's alias or name. */
      alias: string;
      group?: string;
      id: string;
      from?: string;
      dir: 'in' | 'out';
      text: string;
      ts: number;
    };

export interface SearchSource {
  contacts(): ContactInfo[];
  groups(): GroupInfo[];
  history(alias: string): Promise<MessageInfo[]>;
  groupHistory(id: string): Promise<MessageInfo[]>;
}

/** The form text and query are compared in. */
export function foldForSearch(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

/** UsageError for an empty or too long query; else the folded query. */
export function searchQuery(text: string): string {
  if (typeof text !== 'string') throw new UsageError('search text must be text');
  if ([...text].length > MAX_SEARCH_CHARS)
    throw new UsageError(`search text is longer than ${MAX_SEARCH_CHARS} characters`);
  const folded = foldForSearch(text);
  if (folded.trim() === '') throw new UsageError('search text is empty');
  return folded;
}

/** Chats first (as listed), then messages newest first; at most `limit` hits in all. */
export async function search(
  source: SearchSource,
  text: string,
  opts: { limit?: number } = {},
): Promise<SearchHit[]> {
  const q = searchQuery(text);
  const limit = opts.limit ?? DEFAULT_SEARCH_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT)
    throw new UsageError(`limit must be 1 to ${MAX_SEARCH_LIMIT}`);
  const has = (s: string | undefined): boolean => s !== undefined && foldForSearch(s).includes(q);
  const hits: SearchHit[] = [];
  const contacts = source.contacts();
  const groups = source.groups().filter((g) => g.status === 'joined' || g.status === 'left');
  for (const c of contacts)
    if (has(c.alias) || has(c.name)) hits.push({ kind: 'contact', alias: c.alias, name: c.name });
  for (const g of groups)
    if (has(g.name) || has(g.alias) || has(g.topic)) hits.push({ kind: 'group', group: g.id, name: g.name });
  if (hits.length >= limit) return hits.slice(0, limit);
  const messages: Extract<SearchHit, { kind: 'message' }>[] = [];
  const take = (list: MessageInfo[]): void => {
    for (const m of list) {
      if (!m.text || !has(m.text)) continue;
      messages.push({
        kind: 'message',
        alias: m.alias,
        ...(m.group !== undefined ? { group: m.group } : {}),
        id: m.id,
        ...(m.from !== undefined ? { from: m.from } : {}),
        dir: m.dir,
        text: m.text,
        ts: m.ts,
      });
    }
  };
  for (const c of contacts) take(await source.history(c.alias));
  for (const g of groups) take(await source.groupHistory(g.id));
  messages.sort((a, b) => b.ts - a.ts || (a.id < b.id ? -1 : 1));
  return [...hits, ...messages].slice(0, limit);
}
