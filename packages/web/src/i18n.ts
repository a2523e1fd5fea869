/**
 * UI strings: every text the app shows lives in locales/*.json. zh-TW is the default and
 * the reference catalog; `en` must have exactly the same keys (the type below fails to
 * compile otherwise, and a test checks it too). The choice is kept in localStorage.
 */
import { showText } from '@parus/core/display-text';
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import zhTW from './locales/zh-TW.json';
import en from './locales/en.json';

export type MessageKey = keyof typeof zhTW;
export type Catalog = Record<MessageKey, string>;
export type Lang = 'zh-TW' | 'en';

export const LANGS: readonly Lang[] = ['zh-TW', 'en'];
export const CATALOGS: Record<Lang, Catalog> = { 'zh-TW': zhTW, en };

/** BCP 47 tags for <html lang>: Traditional Chinese as written in Taiwan. */
export const HTML_LANG: Record<Lang, string> = { 'zh-TW': 'zh-Hant-TW', en: 'en' };

const LANG_KEY = 'parus.lang';

export function storedLang(): Lang {
  try {
    const v = localStorage.getItem(LANG_KEY);
    if (v === 'zh-TW' || v === 'en') return v;
  } catch {
    // storage blocked: the default
  }
  return 'zh-TW';
}

export function storeLang(lang: Lang): void {
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // storage blocked: the choice lasts for this page only
  }
}

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

/**
 * Fills `{name}` placeholders; unknown placeholders stay as they are. A value is often peer
 * text (a contact's name, a file name): its bidirectional, control and invisible characters
 * are shown by markers (core display-text.ts), so it cannot reorder the sentence around it.
 */
export function fill(template: string, vars: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.hasOwn(vars, name) ? showText(String(vars[name])) : whole,
  );
}

export function translator(lang: Lang): Translate {
  const catalog = CATALOGS[lang];
  return (key, vars) => fill(catalog[key], vars);
}

export interface I18n {
  lang: Lang;
  t: Translate;
  setLang(lang: Lang): void;
}

export const I18nContext = createContext<I18n>({
  lang: 'zh-TW',
  t: translator('zh-TW'),
  setLang: () => undefined,
});

export function useI18n(): I18n {
  return useContext(I18nContext);
}
