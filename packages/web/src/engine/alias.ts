import { nameFault } from '@parus/core/display-text';

const MAX_ALIAS = 64; // the engine's limit, in UTF-16 code units

/**
 * A name someone chose for themselves, made into an alias the engine accepts: no line
 * breaks or tabs, not starting with a space, '/' or '@', at most 64 code units (cut
 * between characters, never inside one), and never empty; a cut that leaves it against the
 * one name rule (a joiner left at its end) falls back to 'friend'.
 */
export function aliasFrom(name: string): string {
  const chars = [
    ...name
      .replace(/[\n\r\t]+/g, ' ')
      .replace(/^[\s/@]+/u, '')
      .trim(),
  ];
  while (chars.join('').length > MAX_ALIAS) chars.pop();
  const alias = chars.join('').trim();
  return alias !== '' && nameFault(alias, MAX_ALIAS) === undefined ? alias : 'friend';
}
