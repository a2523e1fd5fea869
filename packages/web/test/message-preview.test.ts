// One-line previews of stickers, photos, files, actions and tombstones, and the thumbnail's
// geometry: the pure pieces behind the chat list, quotes and photo messages.
import { describe, expect, it } from 'vitest';
import type { MessageInfo } from '@parus/client';
import { messagePreview } from '../src/components/message-preview.ts';
import { fitWithin, formatSize, isImage } from '../src/compose/thumbnail.ts';
import { translator } from '../src/i18n.ts';

const zh = translator('zh-TW');
const en = translator('en');

function message(extra: Partial<MessageInfo>): MessageInfo {
  return {
    id: '00'.repeat(16),
    alias: '阿美',
    dir: 'in',
    kind: 'text',
    text: '',
    ts: 0,
    lamport: 1,
    status: 'received',
    ...extra,
  };
}

describe('messagePreview', () => {
  it('reads stickers, photos and files as LINE writes them', () => {
    const sticker = message({ kind: 'sticker', sticker: { pack: 'parus', id: 'hello' } });
    expect(messagePreview(sticker, zh, '阿美')).toBe('[貼圖]');
    expect(messagePreview(sticker, en, '阿美')).toBe('[Sticker]');
    const file = { name: '報告.pdf', mime: 'application/pdf', size: 10, expires: 0 };
    expect(messagePreview(message({ kind: 'file', file }), zh, '阿美')).toBe('[檔案] 報告.pdf');
    const photo = { ...file, name: 'a.jpg', mime: 'image/jpeg' };
    expect(messagePreview(message({ kind: 'file', file: photo }), zh, '阿美')).toBe('[照片]');
  });

  it('an action names its author; a tombstone says who unsent it', () => {
    expect(messagePreview(message({ text: '揮揮手\n', action: true }), zh, '阿美')).toBe('* 阿美 揮揮手');
    expect(messagePreview(message({ unsent: true }), zh, '阿美')).toBe('對方已收回訊息');
    expect(messagePreview(message({ unsent: true, dir: 'out' }), zh, '阿美')).toBe('你已收回訊息');
    expect(messagePreview(message({ unsent: true, text: 'x' }), en, '阿美')).toBe('A message was unsent');
    expect(messagePreview(message({ text: '  你好\n\n阿美 ' }), zh, '阿美')).toBe('你好 阿美');
  });
});

describe('thumbnail geometry', () => {
  it('fits the longest side, keeps the aspect ratio, never enlarges', () => {
    expect(fitWithin(640, 480, 320)).toEqual({ width: 320, height: 240 });
    expect(fitWithin(480, 640, 320)).toEqual({ width: 240, height: 320 });
    expect(fitWithin(100, 50, 320)).toEqual({ width: 100, height: 50 });
    expect(fitWithin(10_000, 1, 320)).toEqual({ width: 320, height: 1 });
  });

  it('knows which files are images and writes sizes as file managers do', () => {
    expect(isImage('image/png')).toBe(true);
    expect(isImage('image/svg+xml')).toBe(false); // never drawn from a friend's bytes
    expect(isImage('application/pdf')).toBe(false);
    expect(formatSize(12)).toBe('12 B');
    expect(formatSize(340 * 1024)).toBe('340 KB');
    expect(formatSize(1.25 * 1024 * 1024)).toBe('1.3 MB');
  });
});
