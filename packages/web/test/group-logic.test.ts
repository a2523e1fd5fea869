// Group compose logic without a browser: the group commands in the command table, and the
// @mention helpers the composer and the message view use.
import { describe, expect, it } from 'vitest';
import { COMMANDS, parseCommand } from '../src/compose/commands.ts';
import {
  applyMention,
  matchMembers,
  mentionQuery,
  mentionsAny,
  splitMentions,
} from '../src/compose/mentions.ts';

describe('group commands', () => {
  it('work in group chats and are refused in 1:1 chats', () => {
    const group = { chat: 'group' as const };
    expect(parseCommand('/topic 週末去爬山', group)).toEqual({
      kind: 'group',
      name: 'topic',
      arg: '週末去爬山',
    });
    expect(parseCommand('/KICK @阿華', group)).toEqual({ kind: 'group', name: 'kick', arg: '@阿華' });
    expect(parseCommand('/op 小明', group)).toEqual({ kind: 'group', name: 'op', arg: '小明' });
    expect(parseCommand('/ban', group)).toEqual({ kind: 'missing-argument', name: 'ban' });
    expect(parseCommand('/invite 阿美')).toEqual({ kind: 'not-here', name: 'invite' });
    expect(parseCommand('/me 揮手', group)).toEqual({ kind: 'me', text: '揮手' });
    expect(parseCommand('/help', group)).toEqual({ kind: 'help' });
    for (const name of ['topic', 'nick', 'invite', 'kick', 'ban', 'op'])
      expect(COMMANDS.find((c) => c.name === name)?.scope).toBe('group');
  });
});

describe('@mentions', () => {
  it('finds the mention being typed only after a space or at the start', () => {
    expect(mentionQuery('@阿', 2)).toEqual({ start: 0, query: '阿' });
    expect(mentionQuery('嗨 @', 3)).toEqual({ start: 2, query: '' });
    expect(mentionQuery('mail@example', 12)).toBeUndefined();
    expect(mentionQuery('@阿美 你好', 6)).toBeUndefined();
  });

  it('matches members by prefix first, then inside the name', () => {
    expect(matchMembers(['小明', '阿美', '明華'], '明')).toEqual(['明華', '小明']);
    expect(matchMembers(['Amei', 'bob'], 'B')).toEqual(['bob']);
  });

  it('puts the chosen name in place with the caret after it', () => {
    const value = '嗨 @阿 明天見';
    const at = mentionQuery(value, 4)!;
    expect(applyMention(value, at, 4, '阿華')).toEqual({ value: '嗨 @阿華 明天見', caret: 6 });
  });

  it('highlights whole member names only, the longest first', () => {
    expect(splitMentions('@阿美 和 @阿美子，還有 @路人', ['阿美', '阿美子'])).toEqual([
      { text: '@阿美', mention: '阿美' },
      { text: ' 和 ' },
      { text: '@阿美子', mention: '阿美子' },
      { text: '，還有 @路人' },
    ]);
    expect(splitMentions('x@阿美', ['阿美'])).toEqual([{ text: 'x@阿美' }]);
    expect(mentionsAny('@阿華 明天要一起去嗎？', ['阿華'])).toBe(true);
    expect(mentionsAny('@阿華子 你好', ['阿華'])).toBe(false);
  });
});
