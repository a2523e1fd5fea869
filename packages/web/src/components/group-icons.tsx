/** Line icons for groups, in the style of icons.tsx. Decorative: their buttons carry the name. */
import type { ComponentChildren, JSX } from 'preact';

function Svg({ children }: { children: ComponentChildren }): JSX.Element {
  return (
    <svg
      class="icon"
      viewBox="0 0 24 24"
      aria-hidden="true"
      focusable="false"
      fill="none"
      stroke="currentColor"
      stroke-width="2"
      stroke-linecap="round"
      stroke-linejoin="round"
    >
      {children}
    </svg>
  );
}

export const GroupIcon = (): JSX.Element => (
  <Svg>
    <circle cx="8" cy="9" r="3" />
    <circle cx="16" cy="9" r="3" />
    <path d="M2 20c0-3 3-5 6-5s6 2 6 5" />
    <path d="M14 15.5c.6-.3 1.3-.5 2-.5 3 0 6 2 6 5" />
  </Svg>
);

export const PinIcon = (): JSX.Element => (
  <Svg>
    <path d="M9 3h6l-1 6 4 4H6l4-4z" />
    <path d="M12 13v8" />
  </Svg>
);

export const NewGroupIcon = (): JSX.Element => (
  <Svg>
    <circle cx="9" cy="9" r="3" />
    <path d="M3 20c0-3 3-5 6-5s6 2 6 5" />
    <path d="M19 8v6M16 11h6" />
  </Svg>
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
