/** Line icons for groups, in the style of icons.tsx. Decorative: their buttons carry the name. */
import type { JSX } from 'preact';
import { Icon } from './icons.tsx';

export const GroupIcon = (): JSX.Element => (
  <Icon>
    <circle cx="8" cy="9" r="3" />
    <circle cx="16" cy="9" r="3" />
    <path d="M2 20c0-3 3-5 6-5s6 2 6 5" />
    <path d="M14 15.5c.6-.3 1.3-.5 2-.5 3 0 6 2 6 5" />
  </Icon>
);

export const PinIcon = (): JSX.Element => (
  <Icon>
    <path d="M9 3h6l-1 6 4 4H6l4-4z" />
    <path d="M12 13v8" />
  </Icon>
);

export const NewGroupIcon = (): JSX.Element => (
  <Icon>
    <circle cx="9" cy="9" r="3" />
    <path d="M3 20c0-3 3-5 6-5s6 2 6 5" />
    <path d="M19 8v6M16 11h6" />
  </Icon>
);

/** A round group picture: the group icon on the colour its name gives. */
export function GroupAvatar({ name, small = false }: { name: string; small?: boolean }): JSX.Element {
  let h = 0;
  for (const ch of name) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  return (
    <span class={`avatar avatar-${h % 6} group-avatar${small ? ' avatar-small' : ''}`} aria-hidden="true">
      <GroupIcon />
    </span>
  );
}
