/** Line icons for public rooms, in the style of icons.tsx. Decorative: their buttons carry the name. */
import type { JSX } from 'preact';
import { Icon } from './icons.tsx';

/** A public room (公開聊天室): anyone with the link may come in. */
export const GlobeIcon = (): JSX.Element => (
  <Icon>
    <circle cx="12" cy="12" r="9" />
    <path d="M3 12h18" />
    <path d="M12 3c2.5 2.5 3.5 5.5 3.5 9s-1 6.5-3.5 9c-2.5-2.5-3.5-5.5-3.5-9s1-6.5 3.5-9z" />
  </Icon>
);

export const ShareLinkIcon = (): JSX.Element => (
  <Icon>
    <path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1" />
    <path d="M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1" />
  </Icon>
);

export const ChatBubbleIcon = (): JSX.Element => (
  <Icon>
    <path d="M4 5h16v11H9l-5 4z" />
  </Icon>
);
