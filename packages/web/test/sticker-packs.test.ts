// The built-in sticker packs (the little tit and three birds of Taiwan, decision 0058), the
// sticker pack file (every bound and rule refused with a typed error), the emoji search
// words (English and Chinese) and the shipped emoji font's CSS.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DecodeError, QuotaError } from '@parus/core';
import { describe, expect, it } from 'vitest';
import { EMOJI } from '../src/compose/emoji.ts';
import { hasKeywords, searchEmoji } from '../src/compose/emoji-keywords.ts';
import { PACKS, findSticker } from '../src/stickers/manifest.ts';
import {
  PACK_LIMITS,
  encodePackFile,
  isPackFileError,
  parsePackFile,
  type PackFile,
  type PackRefusal,
} from '../src/stickers/pack-file.ts';

const PUBLIC = join(import.meta.dirname, '../public/stickers');
const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64');
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="4"/></svg>';
const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);

function pack(over: Partial<PackFile> = {}): PackFile {
  return {
    pack: 'my-cats',
    name: { 'zh-TW': '我的貓', en: 'My cats' },
    stickers: [
      { id: 'hi', name: { 'zh-TW': '嗨', en: 'Hi' }, type: 'image/svg+xml', data: b64(SVG) },
      { id: 'nap', name: { 'zh-TW': '午睡', en: 'Nap' }, type: 'image/png', data: b64(PNG) },
    ],
    ...over,
  };
}

function refused(bytes: Uint8Array): { reason: PackRefusal; error: unknown } {
  try {
    parsePackFile(bytes);
  } catch (e) {
    if (!isPackFileError(e)) throw e;
    return { reason: e.reason, error: e };
  }
  throw new Error('accepted');
}

const raw = (doc: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(doc));
const withSticker = (s: Record<string, unknown>): Uint8Array =>
  raw({ format: 'parus-stickers/1', pack: 'p', name: 'P', stickers: [{ id: 'a', name: 'A', ...s }] });

describe('the built-in sticker packs', () => {
  it('are the little tit and three birds of Taiwan, 8+ stickers each, named in both languages', () => {
    expect(PACKS.map((p) => p.pack)).toEqual(['parus', 'bluemagpie', 'yellowtit', 'barbet']);
    expect(PACKS.map((p) => p.name['zh-TW'])).toEqual(['小山雀', '臺灣藍鵲', '黃山雀', '五色鳥']);
    for (const p of PACKS) {
      expect(p.stickers.length, p.pack).toBeGreaterThanOrEqual(8);
      expect(new Set(p.stickers.map((s) => s.id)).size).toBe(p.stickers.length);
      for (const s of p.stickers) {
        expect(s.id).toMatch(/^[a-z0-9][a-z0-9_-]{0,31}$/);
        expect(s.name['zh-TW']).toMatch(/[\u3400-\u9fff]/);
        expect(s.name.en).toMatch(/^[A-Z]/);
        expect(s.url).toBe(`stickers/${p.pack}/${s.id}.svg`);
      }
    }
    expect(findSticker('bluemagpie', 'morning')?.name['zh-TW']).toBe('早安');
    expect(findSticker('barbet', 'nope')).toBeUndefined();
  });

  it('ship one small, plain SVG per sticker, with nothing external or scripted', () => {
    for (const p of PACKS) {
      const files = readdirSync(join(PUBLIC, p.pack)).sort();
      expect(files).toEqual(p.stickers.map((s) => `${s.id}.svg`).sort());
      for (const f of files) {
        const path = join(PUBLIC, p.pack, f);
        const svg = readFileSync(path, 'utf8');
        expect(statSync(path).size, f).toBeLessThan(4096);
        expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 160 160">'), f).toBe(
          true,
        );
        expect(svg.trimEnd().endsWith('</svg>'), f).toBe(true);
        expect(svg, f).not.toMatch(/<script|href=|url\(|<image|<foreignObject|on\w+=/i);
        // Each passes the import checks too (the same rules as a pack file's SVG).
        expect(() => parsePackFile(withSvgPack(svg))).not.toThrow();
      }
    }
  });
});

function withSvgPack(svg: string): Uint8Array {
  return encodePackFile(
    pack({ stickers: [{ id: 'x', name: { 'zh-TW': 'x', en: 'x' }, type: 'image/svg+xml', data: b64(svg) }] }),
  );
}

describe('the sticker pack file', () => {
  it('reads a pack; one name stands for both languages', () => {
    const p = parsePackFile(encodePackFile(pack()));
    expect(p.pack).toBe('my-cats');
    expect(p.stickers.map((s) => [s.id, s.type])).toEqual([
      ['hi', 'image/svg+xml'],
      ['nap', 'image/png'],
    ]);
    const one = parsePackFile(withSticker({ type: 'image/svg+xml', data: b64(SVG) }));
    expect(one.name).toEqual({ 'zh-TW': 'P', en: 'P' });
    expect(one.stickers[0]!.name).toEqual({ 'zh-TW': 'A', en: 'A' });
    const webp = Uint8Array.from([...Buffer.from('RIFF'), 4, 0, 0, 0, ...Buffer.from('WEBPVP8 ')]);
    expect(parsePackFile(withSticker({ type: 'image/webp', data: b64(webp) })).stickers[0]!.type).toBe(
      'image/webp',
    );
  });

  it('refuses malformed files with a DecodeError that says why', () => {
    const cases: Array<[Uint8Array, PackRefusal]> = [
      [new TextEncoder().encode('PK\u0003\u0004 not json'), 'not-json'],
      [Uint8Array.from([0xff, 0xfe, 0x00]), 'not-json'],
      [raw([1, 2]), 'format'],
      [raw({ format: 'parus-stickers/2', pack: 'p', name: 'P', stickers: [] }), 'format'],
      [raw({ format: 'parus-stickers/1', pack: '../etc', name: 'P', stickers: [] }), 'pack-name'],
      [raw({ format: 'parus-stickers/1', pack: 'Big', name: 'P', stickers: [] }), 'pack-name'],
      [encodePackFile(pack({ pack: 'parus' })), 'built-in'],
      [encodePackFile(pack({ pack: 'bluemagpie' })), 'built-in'],
      [raw({ format: 'parus-stickers/1', pack: 'p', name: '', stickers: [] }), 'names'],
      [raw({ format: 'parus-stickers/1', pack: 'p', name: 'a\u202eb', stickers: [] }), 'names'],
      [raw({ format: 'parus-stickers/1', pack: 'p', name: 'x'.repeat(41), stickers: [] }), 'names'],
      [withSticker({ id: 'A!', type: 'image/png', data: b64(PNG) }), 'names'],
      [withSticker({ type: 'image/gif', data: b64('GIF89a') }), 'image-type'],
      [withSticker({ type: 'image/png', data: b64('not a png at all') }), 'not-image'],
      [withSticker({ type: 'image/png', data: '!!!!' }), 'not-image'],
      [withSticker({ type: 'image/png', data: '' }), 'not-image'],
      [withSticker({ type: 'image/webp', data: b64(PNG) }), 'not-image'],
      [withSticker({ type: 'image/svg+xml', data: b64('<html><body>hi</body></html>') }), 'not-image'],
      [withSticker({ type: 'image/svg+xml', data: b64(Uint8Array.from([0x3c, 0xff, 0xfe])) }), 'not-image'],
    ];
    for (const [bytes, reason] of cases) {
      const r = refused(bytes);
      expect(r.reason, reason).toBe(reason);
      expect(r.error).toBeInstanceOf(DecodeError);
    }
    const dup = pack();
    dup.stickers[1]!.id = 'hi';
    expect(refused(encodePackFile(dup)).reason).toBe('duplicate');
  });

  it('refuses an SVG with script, handlers, entities or anything from outside', () => {
    for (const bad of [
      '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
      '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>',
      '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><div/></foreignObject></svg>',
      '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>',
      '<svg xmlns="http://www.w3.org/2000/svg"><image href="https://example.invalid/a.png"/></svg>',
      '<svg xmlns="http://www.w3.org/2000/svg"><a xlink:href="javascript:alert(1)"><rect/></a></svg>',
      '<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:url(https://x.invalid/f)"/></svg>',
      '<svg xmlns="http://www.w3.org/2000/svg"><style>@import "https://x.invalid/a.css";</style></svg>',
    ]) {
      const r = refused(withSticker({ type: 'image/svg+xml', data: b64(bad) }));
      expect(['unsafe-svg'], bad).toContain(r.reason);
      expect(r.error).toBeInstanceOf(DecodeError);
    }
    // References inside the document itself are fine.
    const ok =
      '<svg xmlns="http://www.w3.org/2000/svg"><defs><linearGradient id="g"/></defs><rect fill="url(#g)"/><use href="#g"/></svg>';
    expect(() => parsePackFile(withSticker({ type: 'image/svg+xml', data: b64(ok) }))).not.toThrow();
  });

  it('refuses what is over a bound with a QuotaError', () => {
    const big = new Uint8Array(PACK_LIMITS.imageBytes + 1);
    big.set(PNG);
    const many = pack({
      stickers: Array.from({ length: PACK_LIMITS.stickers + 1 }, (_, i) => ({
        id: `s${i}`,
        name: { 'zh-TW': `${i}`, en: `${i}` },
        type: 'image/png' as const,
        data: b64(PNG),
      })),
    });
    const nearlyBig = new Uint8Array(PACK_LIMITS.imageBytes - 10);
    nearlyBig.set(PNG);
    const heavy = pack({
      stickers: Array.from({ length: 13 }, (_, i) => ({
        id: `s${i}`,
        name: { 'zh-TW': `${i}`, en: `${i}` },
        type: 'image/png' as const,
        data: b64(nearlyBig),
      })),
    });
    const cases: Array<[Uint8Array, PackRefusal]> = [
      [new Uint8Array(PACK_LIMITS.fileBytes + 1), 'too-large'],
      [encodePackFile(pack({ stickers: [] })), 'count'],
      [encodePackFile(many), 'count'],
      [withSticker({ type: 'image/png', data: b64(big) }), 'image-too-large'],
      [encodePackFile(heavy), 'too-large'],
    ];
    for (const [bytes, reason] of cases) {
      const r = refused(bytes);
      expect(r.reason, reason).toBe(reason);
      expect(r.error).toBeInstanceOf(QuotaError);
    }
  });
});

describe('emoji search', () => {
  const all = EMOJI.flatMap((c) => c.emoji);
  const find = (q: string): string[] => searchEmoji(all, q);

  it('has English and Chinese words for every emoji in the picker', () => {
    for (const e of all) expect(hasKeywords(e), e).toBe(true);
  });

  it('finds by Chinese (no word splitting) and English (word starts), case and width of spaces aside', () => {
    expect(find('貓')).toEqual(['🐱', '🦉', '🐼']); // 貓 first, then 貓頭鷹 and 熊貓
    expect(find('笑')).toEqual(expect.arrayContaining(['😀', '😂', '🤣']));
    expect(find('愛心')).toEqual(expect.arrayContaining(['❤️', '💙', '🫶']));
    expect(find('珍奶')).toEqual(['🧋']);
    expect(find('cat')).toEqual(['🐱']);
    expect(find('Smile')).toEqual(expect.arrayContaining(['😀', '😊', '🙂']));
    expect(find('heart')).toEqual(expect.arrayContaining(['❤️', '💔', '😍']));
    expect(find('heart')).not.toContain('🐱');
    expect(find('red　heart')).toEqual(['❤️']);
    expect(find('eart')).toEqual([]);
    expect(find('  ')).toEqual([]);
    expect(find('<script>')).toEqual([]);
    expect(find('.*')).toEqual([]);
  });
});

describe('the shipped emoji font', () => {
  const css = readFileSync(join(import.meta.dirname, '../src/emoji-font.css'), 'utf8');
  const styles = readFileSync(join(import.meta.dirname, '../src/styles.css'), 'utf8');

  it('comes from the npm package as one woff2 file and leaves ASCII and Latin-1 to the text font', () => {
    const srcs = [...css.matchAll(/src: url\('([^']+)'\)/g)].map((m) => m[1]!);
    expect(srcs).toEqual(['twemoji-colr-font/twemoji.woff2']);
    expect(statSync(join(import.meta.dirname, '../../../node_modules', srcs[0]!)).size).toBeGreaterThan(
      100_000,
    );
    const ranges = [...css.matchAll(/unicode-range:([^;]+);/g)].map((m) => m[1]!);
    expect(ranges).toHaveLength(1);
    const parts = ranges[0]!.trim().split(/,\s*/);
    for (const part of parts) {
      const [a, b] = part
        .replace('U+', '')
        .split('-')
        .map((x) => parseInt(x, 16));
      expect(b ?? a!, part).toBeGreaterThan(0xff);
    }
    // The emoji of the picker are all inside it.
    const inRange = (cp: number): boolean =>
      parts.some((part) => {
        const [a, b] = part
          .replace('U+', '')
          .split('-')
          .map((x) => parseInt(x, 16));
        return cp >= a! && cp <= (b ?? a!);
      });
    for (const e of EMOJI.flatMap((c) => c.emoji)) expect(inRange(e.codePointAt(0)!), e).toBe(true);
    expect(styles).toMatch(/font-family:\s*'Parus Emoji',/);
  });
});
