/** Call icons (decision 0046), drawn in the frame of components/icons.tsx. Decorative. */
import type { JSX } from 'preact';
import { Icon } from '../components/icons.tsx';

export const PhoneIcon = (): JSX.Element => (
  <Icon>
    <path d="M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2" />
  </Icon>
);

export const VideoIcon = (): JSX.Element => (
  <Icon>
    <rect x="2" y="6" width="14" height="12" rx="2" />
    <path d="M16 10l6-3v10l-6-3z" />
  </Icon>
);
