// Every UI string lives in the locale files; both catalogs have the same keys and the
// same placeholders, and no string is empty.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOGS, HTML_LANG, fill, translator } from '../src/i18n.ts';

const SRC = join(import.meta.dirname, '../src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.tsx?$/.test(name) ? [readFileSync(p, 'utf8')] : [];
  });
}

const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();

describe('locale catalogs', () => {
  const zh = CATALOGS['zh-TW'];
  const en = CATALOGS.en;

  it('have the same keys, no empty string, and the same placeholders', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zh).sort());
    for (const [key, text] of Object.entries(zh)) {
      const other = en[key as keyof typeof en];
      expect(text.trim(), key).not.toBe('');
      expect(other.trim(), key).not.toBe('');
      // Date patterns pick their own fields (English spells the month out).
      if (key.startsWith('time.')) {
        for (const p of [...placeholders(text), ...placeholders(other)])
          expect(['y', 'm', 'd', 'mon', 'h', 'mm', 'period'], key).toContain(p);
      } else expect(placeholders(other), key).toEqual(placeholders(text));
    }
  });

  it('every key is used by the app (literally, or through a typed template)', () => {
    const code = sources(SRC).join('\n');
    const dynamic = [
      /^lang\./,
      /^state\./,
      /^chat\.status\./,
      /^settings\.theme\./,
      /^group\.role\./,
      /^group\.done\./,
      /^settings\.fontSize\./,
      /^time\./,
    ];
    for (const key of Object.keys(zh)) {
      if (dynamic.some((re) => re.test(key))) continue;
      expect(code.includes(`'${key}'`), key).toBe(true);
    }
  });

  it('puts no Chinese text in the code: it all comes from the catalogs', () => {
    for (const file of sources(SRC)) {
      const code = file.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      expect(code.match(/[\u3400-\u9fff]+/g) ?? []).toEqual([]);
    }
  });

  it('zh-TW is Traditional Chinese as written in Taiwan', () => {
    expect(HTML_LANG['zh-TW']).toBe('zh-Hant-TW');
    const all = Object.values(zh).join('');
    // A few Simplified forms that must not appear (the Traditional ones are used instead).
    for (const simplified of ['设', '语', '码', '们', '这', '发', '读', '过', '无', '请', '连']) {
      expect(all.includes(simplified), simplified).toBe(false);
    }
  });

  it('fills placeholders and leaves unknown ones alone', () => {
    expect(fill('你好，{name}！', { name: '阿美' })).toBe('你好，阿美！');
    expect(fill('{a}{b}', { a: 1 })).toBe('1{b}');
    expect(translator('en')('list.unread', { count: 3 })).toBe('3 unread');
    expect(translator('zh-TW')('list.unread', { count: 3 })).toBe('3 則未讀');
  });
});
