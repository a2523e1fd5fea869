// Global options anywhere on the command line, the language choice, and the two catalogues.
import { describe, expect, it } from 'vitest';
import { splitGlobalOptions } from '../src/global-options.ts';
import { langFromEnv, langOf } from '../src/i18n.ts';
import { EN } from '../src/locales/en.ts';
import { ZH_TW } from '../src/locales/zh-TW.ts';

describe('splitGlobalOptions', () => {
  it('finds the command after global options and puts --home and --json back for it', () => {
    const r = splitGlobalOptions(['--home', '/h', '--json', 'send', 'bob', 'hi', '--reply', 'abc']);
    expect(r.command).toBe('send');
    expect(r.rest).toEqual(['bob', 'hi', '--reply', 'abc', '--home', '/h', '--json']);
    expect(r).toMatchObject({ home: '/h', json: true, help: false, misplaced: undefined });
  });

  it('takes them after the command too, and --home=DIR, --lang', () => {
    const r = splitGlobalOptions(['device', 'revoke', '--home=/h', 'ab12', '--lang', 'zh-TW']);
    expect(r.command).toBe('device');
    expect(r.rest).toEqual(['revoke', 'ab12', '--home', '/h']);
    expect(r.lang).toBe('zh-TW');
  });

  it('leaves everything after -- to the command, and keeps the -- before it', () => {
    const r = splitGlobalOptions(['--json', 'send', 'bob', '--', '--home', 'x']);
    expect(r.rest).toEqual(['bob', '--json', '--', '--home', 'x']);
    expect(r.home).toBeUndefined();
  });

  it('notes a command option given before the command, and -h anywhere', () => {
    expect(splitGlobalOptions(['--port', '1', 'relay']).misplaced).toBe('--port');
    expect(splitGlobalOptions(['relay', '-h']).help).toBe(true);
    // A value-taking global option without its value is left for the command's parser to refuse.
    expect(splitGlobalOptions(['contacts', '--home']).rest).toEqual(['--home']);
  });
});

describe('language', () => {
  it('is zh-TW for a zh_TW locale, English otherwise, LC_ALL then LC_MESSAGES then LANG', () => {
    expect(langFromEnv({ LANG: 'zh_TW.UTF-8' })).toBe('zh-TW');
    expect(langFromEnv({ LANG: 'zh_TW' })).toBe('zh-TW');
    expect(langFromEnv({ LANG: 'zh_Hant_TW.UTF-8' })).toBe('zh-TW');
    expect(langFromEnv({ LANG: 'zh_CN.UTF-8' })).toBe('en');
    expect(langFromEnv({ LANG: 'de_DE.UTF-8' })).toBe('en');
    expect(langFromEnv({})).toBe('en');
    expect(langFromEnv({ LC_ALL: 'C.UTF-8', LANG: 'zh_TW.UTF-8' })).toBe('en');
    expect(langFromEnv({ LC_ALL: '', LC_MESSAGES: 'zh_TW.UTF-8', LANG: 'en_US.UTF-8' })).toBe('zh-TW');
    expect(langOf('zh-TW')).toBe('zh-TW');
    expect(langOf('en')).toBe('en');
    expect(langOf('klingon')).toBeUndefined();
  });

  it('has every message in both catalogues, with the same parameters', () => {
    const params = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
    expect(Object.keys(ZH_TW).sort()).toEqual(Object.keys(EN).sort());
    for (const key of Object.keys(EN) as (keyof typeof EN)[])
      expect(params(ZH_TW[key]), key).toEqual(params(EN[key]));
  });
});
