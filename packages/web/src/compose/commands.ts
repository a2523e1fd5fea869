/**
 * Slash commands typed in the composer. A table says which commands exist, where they work
 * (any chat now; group-only ones such as /topic /nick /invite /kick /ban /op join the table
 * when groups arrive) and what argument they take; `parseCommand` turns a draft into what
 * the composer should do. Only a word right after a leading '/' is a command: "/usr/bin"
 * or "/ hello" are plain text, and "//text" sends "/text" as it is.
 */
import type { MessageKey } from '../i18n.ts';

export type CommandScope = 'any' | 'group';
export type CommandArgument = 'none' | 'text';

export interface CommandSpec {
  name: string;
  scope: CommandScope;
  argument: CommandArgument;
  /** How the help card writes the usage, e.g. "/me 動作". */
  usage: MessageKey;
  description: MessageKey;
}

export const COMMANDS: readonly CommandSpec[] = [
  { name: 'help', scope: 'any', argument: 'none', usage: 'command.help.usage', description: 'command.help' },
  { name: 'me', scope: 'any', argument: 'text', usage: 'command.me.usage', description: 'command.me' },
];

export type ParsedDraft =
  | { kind: 'text'; text: string }
  | { kind: 'help' }
  | { kind: 'me'; text: string }
  | { kind: 'unknown'; name: string }
  | { kind: 'missing-argument'; name: string }
  | { kind: 'not-here'; name: string };

const COMMAND = /^\/([A-Za-z][A-Za-z0-9_-]*)(?:\s+([\s\S]*))?$/u;

/** What a draft means, in a chat of the given kind (1:1 chats are all there is for now). */
export function parseCommand(
  draft: string,
  opts: { chat: 'direct' | 'group' } = { chat: 'direct' },
): ParsedDraft {
  if (draft.startsWith('//')) return { kind: 'text', text: draft.slice(1) };
  const m = COMMAND.exec(draft.trimEnd());
  if (!m) return { kind: 'text', text: draft };
  const name = m[1]!.toLowerCase();
  const arg = (m[2] ?? '').trim();
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) return { kind: 'unknown', name };
  if (spec.scope === 'group' && opts.chat !== 'group') return { kind: 'not-here', name };
  if (spec.argument === 'text' && arg === '') return { kind: 'missing-argument', name };
  if (name === 'me') return { kind: 'me', text: arg };
  return { kind: 'help' };
}

/**
 * How an action message (`/me waves`, sent with the engine's `action` flag) reads on
 * screen and in previews: "* 阿美 waves", as IRC clients show actions.
 */
export function actionLine(sender: string, action: string): string {
  return `* ${sender} ${action}`;
}
