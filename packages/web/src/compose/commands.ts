/**
 * Slash commands typed in the composer. A table says which commands exist, where they work
 * (any chat, or groups only: /topic /nick /invite /kick /ban /op) and what argument they take; `parseCommand` turns a draft into what
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
  {
    name: 'topic',
    scope: 'group',
    argument: 'text',
    usage: 'command.topic.usage',
    description: 'command.topic',
  },
  {
    name: 'nick',
    scope: 'group',
    argument: 'text',
    usage: 'command.nick.usage',
    description: 'command.nick',
  },
  {
    name: 'invite',
    scope: 'group',
    argument: 'text',
    usage: 'command.invite.usage',
    description: 'command.invite',
  },
  {
    name: 'kick',
    scope: 'group',
    argument: 'text',
    usage: 'command.kick.usage',
    description: 'command.kick',
  },
  { name: 'ban', scope: 'group', argument: 'text', usage: 'command.ban.usage', description: 'command.ban' },
  { name: 'op', scope: 'group', argument: 'text', usage: 'command.op.usage', description: 'command.op' },
];

/** The commands that act on a group (each calls the group engine). */
export type GroupCommandName = 'topic' | 'nick' | 'invite' | 'kick' | 'ban' | 'op';

export type ParsedDraft =
  | { kind: 'text'; text: string }
  | { kind: 'help' }
  | { kind: 'me'; text: string }
  | { kind: 'group'; name: GroupCommandName; arg: string }
  | { kind: 'unknown'; name: string }
  | { kind: 'missing-argument'; name: string }
  | { kind: 'not-here'; name: string };

const COMMAND = /^\/([A-Za-z][A-Za-z0-9_-]*)(?:\s+([\s\S]*))?$/u;

/** What a draft means, in a chat of the given kind (group commands work in groups only). */
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
  if (name === 'help') return { kind: 'help' };
  return { kind: 'group', name: name as GroupCommandName, arg };
}

/**
 * How an action message (`/me waves`, sent with the engine's `action` flag) reads on
 * screen and in previews: "* 阿美 waves", as IRC clients show actions.
 */
export function actionLine(sender: string, action: string): string {
  return `* ${sender} ${action}`;
}
