// The composer's pure parts: slash commands, inserting at the caret, the typing throttle;
// and the notification rule and the sticker manifest.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { insertAtCaret } from '../src/compose/caret.ts';
import { COMMANDS, actionLine, parseCommand } from '../src/compose/commands.ts';
import { EMOJI } from '../src/compose/emoji.ts';
import { TYPING_SHOWN_MS, typingThrottle, typingUntilAfter } from '../src/compose/typing.ts';
import { CATALOGS } from '../src/i18n.ts';
import { shouldNotify } from '../src/notifications.ts';
import { PACKS, findSticker } from '../src/stickers/manifest.ts';

describe('parseCommand', () => {
  it('reads /help and /me, whatever the case, with the action text trimmed', () => {
    expect(parseCommand('/help')).toEqual({ kind: 'help' });
    expect(parseCommand('/HELP  ')).toEqual({ kind: 'help' });
    expect(parseCommand('/me 揮揮手 ')).toEqual({ kind: 'me', text: '揮揮手' });
    expect(parseCommand('/me  waves\nhappily')).toEqual({ kind: 'me', text: 'waves\nhappily' });
  });

  it('an unknown command is an error, not text; /me without text asks for it', () => {
    expect(parseCommand('/nope hi')).toEqual({ kind: 'unknown', name: 'nope' });
    expect(parseCommand('/me')).toEqual({ kind: 'missing-argument', name: 'me' });
    expect(parseCommand('/me   ')).toEqual({ kind: 'missing-argument', name: 'me' });
  });

  it('leaves text that only looks like a command alone, and // escapes a slash', () => {
    for (const text of ['hello /me', '/ hello', '/usr/bin/env', '/', '/123', '／me 全形斜線'])
      expect(parseCommand(text)).toEqual({ kind: 'text', text });
    expect(parseCommand('//me is not a command')).toEqual({ kind: 'text', text: '/me is not a command' });
  });

  it('every command has its usage and description in both catalogs', () => {
    for (const c of COMMANDS) {
      expect(CATALOGS['zh-TW'][c.usage].startsWith(`/${c.name}`)).toBe(true);
      expect(CATALOGS.en[c.usage].startsWith(`/${c.name}`)).toBe(true);
    }
  });

  it('an action line writes the sender before the action', () => {
    expect(actionLine('阿美', '揮揮手')).toBe('* 阿美 揮揮手');
  });
});

describe('insertAtCaret', () => {
  it('inserts at the caret, replaces a selection, and clamps positions', () => {
    expect(insertAtCaret('你好', { start: 1, end: 1 }, '😊')).toEqual({ value: '你😊好', caret: 3 });
    expect(insertAtCaret('hello world', { start: 6, end: 11 }, '🌏')).toEqual({
      value: 'hello 🌏',
      caret: 8,
    });
    expect(insertAtCaret('ab', { start: 9, end: 12 }, '!')).toEqual({ value: 'ab!', caret: 3 });
    expect(insertAtCaret('', { start: 0, end: 0 }, '🧋')).toEqual({ value: '🧋', caret: 2 });
  });
});

describe('typingThrottle', () => {
  it('signals on the first change, then at most once per interval, and at once after a reset', () => {
    let now = 1_000;
    let signals = 0;
    const typing = typingThrottle(() => signals++, { now: () => now, interval: 3_000 });
    typing.changed();
    expect(signals).toBe(1);
    now += 1_000;
    typing.changed();
    now += 1_999;
    typing.changed();
    expect(signals).toBe(1);
    now += 1;
    typing.changed();
    expect(signals).toBe(2);
    typing.reset();
    typing.changed();
    expect(signals).toBe(3);
  });
});

describe('typingUntilAfter', () => {
  it('shows the indicator for a while after a typing event, and clears it when they stop', () => {
    expect(typingUntilAfter({ typing: true }, 1_000)).toBe(1_000 + TYPING_SHOWN_MS);
    expect(typingUntilAfter({ typing: false }, 1_000)).toBeUndefined();
  });
});

describe('shouldNotify', () => {
  const base = {
    prefs: { enabled: true, preview: true },
    permission: 'granted' as const,
    muted: false,
    hidden: false,
    chatOpen: false,
  };
  it('notifies when the page is hidden or the chat is not open', () => {
    expect(shouldNotify(base)).toBe(true);
    expect(shouldNotify({ ...base, chatOpen: true, hidden: true })).toBe(true);
    expect(shouldNotify({ ...base, chatOpen: true })).toBe(false);
  });
  it('never for a muted chat, without permission, or when switched off', () => {
    expect(shouldNotify({ ...base, muted: true, hidden: true })).toBe(false);
    expect(shouldNotify({ ...base, permission: 'default' })).toBe(false);
    expect(shouldNotify({ ...base, permission: 'denied' })).toBe(false);
    expect(shouldNotify({ ...base, permission: 'unsupported' })).toBe(false);
    expect(shouldNotify({ ...base, prefs: { enabled: false, preview: true } })).toBe(false);
  });
});

describe('the emoji list', () => {
  it('has no duplicate and a named category for each group', () => {
    const all = EMOJI.flatMap((c) => c.emoji);
    expect(new Set(all).size).toBe(all.length);
    for (const c of EMOJI) {
      expect(c.emoji.length).toBeGreaterThan(10);
      expect(CATALOGS.en[c.label]).toBeTruthy();
    }
  });
});

describe('the Parus sticker pack', () => {
  const dir = join(import.meta.dirname, '../public/stickers/parus');
  const ids = [
    'hello',
    'thanks',
    'ok',
    'haha',
    'sorry',
    'goodnight',
    'love',
    'wow',
    'cry',
    'angry',
    'busy',
    'cheer',
  ];

  it('lists the twelve stickers, each named in both languages', () => {
    const parus = PACKS.find((p) => p.pack === 'parus')!;
    expect(parus.stickers.map((s) => s.id)).toEqual(ids);
    for (const s of parus.stickers) {
      expect(s.name['zh-TW']).toMatch(/[\u3400-\u9fff]/);
      expect(s.name.en).toMatch(/^[A-Z]/);
    }
    expect(findSticker('parus', 'thanks')?.url).toBe('stickers/parus/thanks.svg');
    expect(findSticker('parus', 'nope')).toBeUndefined();
    expect(findSticker('other', 'hello')).toBeUndefined();
  });

  it('ships every file, small, as plain SVG with nothing external or scripted', () => {
    const files = readdirSync(dir).sort();
    expect(files).toEqual(ids.map((id) => `${id}.svg`).sort());
    for (const f of files) {
      const svg = readFileSync(join(dir, f), 'utf8');
      expect(statSync(join(dir, f)).size, f).toBeLessThan(4096);
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 160 160">'), f).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>'), f).toBe(true);
      expect(svg, f).not.toMatch(/<script|href=|url\(|<image|<foreignObject|on\w+=/i);
    }
  });
});
