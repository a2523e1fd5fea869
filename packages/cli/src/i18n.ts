/**
 * The CLI's language (docs/decisions/0043): Traditional Chinese when the locale says zh_TW
 * (LC_ALL, else LC_MESSAGES, else LANG, as POSIX orders them; or --lang), English otherwise,
 * as the web client chooses by the browser's language. Free of other imports (start-up time).
 */
import { EN, type MessageKey } from './locales/en.ts';
import { ZH_TW } from './locales/zh-TW.ts';

export type Lang = 'en' | 'zh-TW';
export type { MessageKey };

const CATALOGUES: Record<Lang, Record<MessageKey, string>> = { en: EN, 'zh-TW': ZH_TW };

let current: Lang = 'en';

/** The language a `--lang` value or a locale name (zh_TW.UTF-8, zh-TW, zh_Hant_TW) asks for. */
export function langOf(name: string): Lang | undefined {
  const n = name.trim().toLowerCase().replace(/_/g, '-');
  if (n === 'en' || n.startsWith('en-') || n === 'c' || n.startsWith('c.') || n === 'posix') return 'en';
  if (/^zh-(tw|hant)(\b|[-.@])/.test(n)) return 'zh-TW';
  return undefined;
}

/** The locale's language: the first of LC_ALL, LC_MESSAGES, LANG that is set decides. */
export function langFromEnv(env: NodeJS.ProcessEnv): Lang {
  for (const name of ['LC_ALL', 'LC_MESSAGES', 'LANG']) {
    const value = env[name];
    if (value) return langOf(value) ?? 'en';
  }
  return 'en';
}

export function setLang(lang: Lang): void {
  current = lang;
}

/** Sets the language from `--lang` or the locale; false when `--lang` names no language we have. */
export function chooseLang(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  const chosen = flag === undefined ? langFromEnv(env) : langOf(flag);
  setLang(chosen ?? langFromEnv(env));
  return flag === undefined || chosen !== undefined;
}

export function lang(): Lang {
  return current;
}

/** The message `key` in the current language, with `{name}` replaced by params.name. */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const template = CATALOGUES[current][key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}
