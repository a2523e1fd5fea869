/**
 * Look and size, kept in localStorage and applied to <html> as data attributes; the
 * stylesheet maps each to CSS custom properties (no inline styles: the CSP forbids them).
 * Themes: the system's choice, light, dark, and three colour themes (抹茶 matcha green,
 * 櫻花 sakura pink, 海洋 ocean blue). Every theme keeps text at 4.5:1 or more against its
 * backgrounds (test/themes.test.ts measures it in Chromium).
 */
export type ThemeChoice = 'system' | 'light' | 'dark' | 'matcha' | 'sakura' | 'ocean';
export const THEMES: readonly ThemeChoice[] = ['system', 'light', 'dark', 'matcha', 'sakura', 'ocean'];

export type FontSize = 'small' | 'medium' | 'large' | 'xlarge';
export const FONT_SIZES: readonly FontSize[] = ['small', 'medium', 'large', 'xlarge'];

const THEME_KEY = 'parus.theme';
const FONT_KEY = 'parus.fontSize';

function read<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
  try {
    const v = localStorage.getItem(key);
    if (v !== null && (allowed as readonly string[]).includes(v)) return v as T;
  } catch {
    // storage blocked
  }
  return fallback;
}

function write(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage blocked: the choice lasts for this page only
  }
}

export function storedTheme(): ThemeChoice {
  return read(THEME_KEY, THEMES, 'system');
}

export function storedFontSize(): FontSize {
  return read(FONT_KEY, FONT_SIZES, 'medium');
}

/** 'system' leaves the attribute off: the stylesheet follows prefers-color-scheme then. */
export function applyTheme(choice: ThemeChoice): void {
  if (choice === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = choice;
  write(THEME_KEY, choice);
}

/** 'medium' leaves the attribute off (the stylesheet's default size). */
export function applyFontSize(size: FontSize): void {
  if (size === 'medium') delete document.documentElement.dataset.fontSize;
  else document.documentElement.dataset.fontSize = size;
  write(FONT_KEY, size);
}
