import type { JSX } from 'preact';

/**
 * A round initial; the colour comes from the name, so a friend keeps theirs. With `src` (an
 * avatar the friend sent, decision 0056), their picture instead.
 */
export function Avatar({
  name,
  small = false,
  src,
}: {
  name: string;
  small?: boolean;
  src?: string | undefined;
}): JSX.Element {
  if (src)
    return (
      <img
        class={`avatar avatar-picture${small ? ' avatar-small' : ''}`}
        src={src}
        alt=""
        aria-hidden="true"
      />
    );
  let h = 0;
  for (const ch of name) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  const initial = [...name.trim()][0]?.toUpperCase() ?? '?';
  return (
    <span class={`avatar avatar-${h % 6}${small ? ' avatar-small' : ''}`} aria-hidden="true">
      {initial}
    </span>
  );
}
