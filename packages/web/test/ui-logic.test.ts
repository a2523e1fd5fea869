// The small pure pieces behind the screens: IME-safe Enter, the chat list order, QR paths.
import { describe, expect, it } from 'vitest';
import type { ContactInfo, MessageInfo } from '@parus/client';
import { isImeEnter } from '../src/components/composer.tsx';
import { qrPath } from '../src/components/qr-code.tsx';
import { aliasFrom } from '../src/engine/alias.ts';
import { summarizeChats } from '../src/engine/chats.ts';

const key = (init: { isComposing?: boolean; keyCode?: number }): KeyboardEvent =>
  ({ key: 'Enter', isComposing: init.isComposing ?? false, keyCode: init.keyCode ?? 13 }) as KeyboardEvent;

describe('isImeEnter', () => {
  it('an Enter that belongs to the IME is never a send', () => {
    expect(isImeEnter(key({ isComposing: true }), false)).toBe(true);
    expect(isImeEnter(key({}), true)).toBe(true); // between compositionstart and compositionend
    expect(isImeEnter(key({ keyCode: 229 }), false)).toBe(true); // Safari, after compositionend
    expect(isImeEnter(key({}), false)).toBe(false);
  });
});

function contact(alias: string, created: number): ContactInfo {
  return {
    alias,
    name: alias,
    state: 'unvalidated',
    status: 'active',
    safetyNumber: '',
    keyChanged: false,
    created,
  };
}

function msg(alias: string, ts: number, dir: 'in' | 'out', status: MessageInfo['status']): MessageInfo {
  return { id: `${alias}-${ts}`, alias, dir, kind: 'text', text: `t${ts}`, ts, lamport: 0, status };
}

describe('summarizeChats', () => {
  it('sorts by the latest message, counts unread incoming messages, and places new contacts by creation', () => {
    const contacts = [contact('a', 1), contact('b', 2), contact('c', 50), contact('d', 3)];
    const histories: Record<string, MessageInfo[]> = {
      a: [msg('a', 10, 'in', 'read'), msg('a', 40, 'out', 'delivered')],
      b: [msg('b', 20, 'in', 'received'), msg('b', 60, 'in', 'received'), msg('b', 30, 'out', 'read')],
      c: [],
      d: [msg('d', 5, 'in', 'received')],
    };
    const chats = summarizeChats(contacts, (alias) => histories[alias] ?? []);
    expect(chats.map((c) => c.contact.alias)).toEqual(['b', 'c', 'a', 'd']);
    expect(chats.map((c) => c.unread)).toEqual([2, 0, 0, 1]);
    expect(chats[0]!.last?.ts).toBe(60);
    expect(chats[1]!.last).toBeUndefined();
  });
});

describe('qrPath', () => {
  it('draws horizontal runs of dark modules inside a four-module quiet zone', () => {
    const m = { size: 3, cells: Uint8Array.from([1, 1, 0, 0, 0, 0, 1, 0, 1]) };
    expect(qrPath(m)).toBe('M4 4h2v1h-2zM4 6h1v1h-1zM6 6h1v1h-1z');
  });
});

describe('aliasFrom', () => {
  it('makes any chosen name into an alias the engine accepts', () => {
    expect(aliasFrom('阿美')).toBe('阿美');
    expect(aliasFrom('  @bob ')).toBe('bob');
    expect(aliasFrom('/me\nand\tyou')).toBe('me and you');
    expect(aliasFrom('@@@')).toBe('friend');
    expect(aliasFrom('')).toBe('friend');
    const long = aliasFrom('😊'.repeat(40));
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).toBe('😊'.repeat(32));
    // A cut that leaves a joiner at the end would break the one name rule (decision 0024).
    expect(aliasFrom(`${'x'.repeat(61)}👨\u200d👩`)).toBe('friend');
  });
});
