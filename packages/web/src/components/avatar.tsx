import type { JSX } from 'preact';

/** A round initial; the colour comes from the name, so a friend keeps theirs. */
export function Avatar({ name, small = false }: { name: string; small?: boolean }): JSX.Element {
  let h = 0;
  for (const ch of name) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  const initial = [...name.trim()][0]?.toUpperCase() ?? '?';
  return (
    <span class={`avatar avatar-${h % 6}${small ? ' avatar-small' : ''}`} aria-hidden="true">
      {initial}
    </span>
  );
}
