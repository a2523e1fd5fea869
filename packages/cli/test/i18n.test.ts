// The CLI's catalogues (decision 0043, 0059): the same keys and parameters in both, every key
// used by the code, no message written in the code itself (what people read comes from the
// catalogues), and the CLI's own errors English for scripts, localized for people.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '@parus/core';
import { fault, localMessage, setLang, t } from '../src/i18n.ts';
import { EN } from '../src/locales/en.ts';
import { ZH_TW } from '../src/locales/zh-TW.ts';

const SRC = join(import.meta.dirname, '../src');

function sources(dir: string): Array<{ path: string; code: string }> {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'locales' ? [] : sources(p);
    return name.endsWith('.ts') ? [{ path: p, code: readFileSync(p, 'utf8') }] : [];
  });
}

/** The code without its comments. */
function bare(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

const params = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();

describe('CLI catalogues', () => {
  it('have the same keys, no empty text, and the same parameters', () => {
    expect(Object.keys(ZH_TW).sort()).toEqual(Object.keys(EN).sort());
    for (const key of Object.keys(EN) as (keyof typeof EN)[]) {
      expect(EN[key].trim(), key).not.toBe('');
      expect(ZH_TW[key].trim(), key).not.toBe('');
      expect(params(ZH_TW[key]), key).toEqual(params(EN[key]));
    }
  });

  it('every key is used by the code (literally, or through a typed template)', () => {
    const code = sources(SRC)
      .map((f) => f.code)
      .join('\n');
    const dynamic = [/^state\./, /^role\./];
    for (const key of Object.keys(EN)) {
      if (dynamic.some((re) => re.test(key))) continue;
      expect(code.includes(`'${key}'`), key).toBe(true);
    }
  });

  it('writes no message in the code: lines, warnings and errors come from the catalogues', () => {
    // A literal with a word in it, printed or thrown as it is.
    const printed = /\b(?:out\.(?:line|warn)|show|new [A-Z]\w*Error)\(\s*(['"`])\s*[A-Za-z]{2,}[^'"`]*\1/g;
    const chinese = /[\u3400-\u9fff]/;
    for (const { path, code } of sources(SRC)) {
      const text = bare(code);
      expect(text.match(printed) ?? [], path).toEqual([]);
      expect(chinese.test(text), path).toBe(false);
    }
  });

  it("keeps the CLI's own errors English for scripts and shows them to people in their language", () => {
    setLang('zh-TW');
    try {
      const e = fault(UsageError, 'search.limit');
      expect(e).toBeInstanceOf(UsageError);
      expect(e.message).toBe(EN['search.limit']);
      expect(localMessage(e)).toBe(ZH_TW['search.limit']);
      expect(localMessage(new UsageError('from the engine'))).toBe('from the engine');
      expect(t('read.none')).toBe(ZH_TW['read.none']);
    } finally {
      setLang('en');
    }
    expect(t('read.none')).toBe('No new messages.');
  });
});
