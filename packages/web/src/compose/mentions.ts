/**
 * @mentions in group chats. A mention is "@" and a member's name as the writer's device
 * shows it (their nick when they set one), at the start of the text or after a space. The
 * composer opens a list of members while the caret is in such a word; messages show the
 * mentions of current members highlighted and mark the ones that name me.
 */

export interface MentionQuery {
  /** Where the "@" is. */
  start: number;
  /** What follows it up to the caret. */
  query: string;
}

/** The mention being typed at the caret, if any ("@" at the start or after whitespace). */
export function mentionQuery(value: string, caret: number): MentionQuery | undefined {
  const before = value.slice(0, caret);
  const m = /(^|\s)@([^\s@]*)$/u.exec(before);
  if (!m) return undefined;
  return { start: before.length - m[2]!.length - 1, query: m[2]! };
}

/** Names that fit the query (prefix first, then containing it), case-insensitive. */
export function matchMembers(names: readonly string[], query: string): string[] {
  const q = query.toLowerCase();
  const prefix = names.filter((n) => n.toLowerCase().startsWith(q));
  const inside = names.filter((n) => !n.toLowerCase().startsWith(q) && n.toLowerCase().includes(q));
  return [...prefix, ...inside];
}

/** Puts "@name " in place of the mention being typed; the caret goes after it. */
export function applyMention(
  value: string,
  at: MentionQuery,
  caret: number,
  name: string,
): { value: string; caret: number } {
  const inserted = `@${name} `;
  const rest = value.slice(caret).replace(/^\S*/u, '').replace(/^ /u, '');
  return { value: value.slice(0, at.start) + inserted + rest, caret: at.start + inserted.length };
}

export type Segment = { text: string; mention?: string };

/** The text cut into plain parts and mentions of the given names (longest name first). */
export function splitMentions(text: string, names: readonly string[]): Segment[] {
  const sorted = [...new Set(names.filter((n) => n.length > 0))].sort((a, b) => b.length - a.length);
  const out: Segment[] = [];
  let plain = '';
  let i = 0;
  while (i < text.length) {
    const atBoundary = i === 0 || /\s/u.test(text[i - 1]!);
    const name = text[i] === '@' && atBoundary ? sorted.find((n) => text.startsWith(n, i + 1)) : undefined;
    const end = name === undefined ? -1 : i + 1 + name.length;
    if (name !== undefined && (end === text.length || /[\s,.!?:;，。！？：；、]/u.test(text[end]!))) {
      if (plain) out.push({ text: plain });
      plain = '';
      out.push({ text: `@${name}`, mention: name });
      i = end;
    } else {
      plain += text[i];
      i++;
    }
  }
  if (plain) out.push({ text: plain });
  return out;
}

/** Whether the text mentions any of the names I go by. */
export function mentionsAny(text: string, mine: readonly string[]): boolean {
  return splitMentions(text, mine).some((s) => s.mention !== undefined);
}
