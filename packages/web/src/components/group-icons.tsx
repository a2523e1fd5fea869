/** Line icons for groups, in the style of icons.tsx. Decorative: their buttons carry the name. */
import type { JSX } from 'preact';
import { Avatar } from './avatar.tsx';
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

/** Three people in a speech bubble: unlike AddFriendIcon (one person and a plus) at a glance. */
export const NewGroupIcon = (): JSX.Element => (
  <Icon>
    <path d="M3 4h18v13h-9l-5 4v-4H3z" />
    <circle cx="7.5" cy="9" r="1.6" />
    <circle cx="12" cy="8.2" r="1.6" />
    <circle cx="16.5" cy="9" r="1.6" />
    <path d="M5.5 14c.4-1.3 1.1-2 2-2M10 13.5c.4-1.3 1.1-2 2-2s1.6.7 2 2M16.5 12c.9 0 1.6.7 2 2" />
  </Icon>
);

/**
 * A round group picture: the picture an admin set (`src`, decision 0066), else the group icon on
 * the colour its name gives.
 */
export function GroupAvatar(props: { name: string; small?: boolean; src?: string | undefined }): JSX.Element {
  return (
    <Avatar {...props} kind="group-avatar">
      <GroupIcon />
    </Avatar>
  );
}
