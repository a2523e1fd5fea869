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

export type Params = Record<string, string | number>;

/** The message `key` in the current language, with `{name}` replaced by params.name. */
export function t(key: MessageKey, params: Params = {}): string {
  return fill(CATALOGUES[current][key], params);
}

/** The message `key` in English: what `--json` carries (scripts read it, whatever the locale). */
export function en(key: MessageKey, params: Params = {}): string {
  return fill(EN[key], params);
}

const OWN = new WeakMap<object, { key: MessageKey; params: Params }>();

/**
 * A typed error whose text is the CLI's own (decision 0059): its message is English (the error
 * object, `--json`), and reportError shows people the catalogue's text in their language.
 */
export function fault<E extends Error>(
  Kind: new (message: string, options?: { cause?: unknown }) => E,
  key: MessageKey,
  params: Params = {},
  options?: { cause?: unknown },
): E {
  const e = new Kind(en(key, params), options);
  OWN.set(e, { key, params });
  return e;
}

/** The error's message for people: the catalogue's text for the CLI's own errors, else as it is. */
export function localMessage(error: Error): string {
  const own = OWN.get(error);
  return own ? t(own.key, own.params) : error.message;
}

function fill(template: string, params: Params): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}
