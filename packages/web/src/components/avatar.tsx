import type { JSX } from 'preact';

/**
 * A round initial; the colour comes from the name, so a friend keeps theirs. With `src` (an
 * avatar the friend sent, decision 0056), their picture instead. `children` replace the initial
 * and `kind` adds a class (a group's icon, group-icons.tsx).
 */
export function Avatar({
  name,
  small = false,
  src,
  kind,
  children,
}: {
  name: string;
  small?: boolean;
  src?: string | undefined;
  kind?: string;
  children?: JSX.Element;
}): JSX.Element {
  const extra = `${kind ? ` ${kind}` : ''}${small ? ' avatar-small' : ''}`;
  if (src) return <img class={`avatar avatar-picture${extra}`} src={src} alt="" aria-hidden="true" />;
  let h = 0;
  for (const ch of name) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  return (
    <span class={`avatar avatar-${h % 6}${extra}`} aria-hidden="true">
      {children ?? [...name.trim()][0]?.toUpperCase() ?? '?'}
    </span>
  );
}
