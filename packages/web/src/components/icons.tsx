/** Small line icons, drawn for Parus. Decorative: the buttons that hold them carry the name. */
import type { JSX } from 'preact';

/** The frame every line icon shares. */
export function Icon({ children }: { children: JSX.Element | JSX.Element[] }): JSX.Element {
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

export const AddFriendIcon = (): JSX.Element => (
  <Icon>
    <circle cx="9" cy="8" r="4" />
    <path d="M2 21c0-4 3-7 7-7s7 3 7 7" />
    <path d="M19 8v6M16 11h6" />
  </Icon>
);

export const SettingsIcon = (): JSX.Element => (
  <Icon>
    <circle cx="12" cy="12" r="3" />
    <path d="M12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1 7 17M17 7l2.1-2.1" />
  </Icon>
);

export const LockIcon = (): JSX.Element => (
  <Icon>
    <rect x="4" y="11" width="16" height="10" rx="2" />
    <path d="M8 11V7a4 4 0 0 1 8 0v4" />
  </Icon>
);

export const SendIcon = (): JSX.Element => (
  <Icon>
    <path d="M4 12 20 4l-4 16-4-7-8-1z" />
  </Icon>
);

export const ReplyIcon = (): JSX.Element => (
  <Icon>
    <path d="M10 8 4 13l6 5" />
    <path d="M4 13h10a6 6 0 0 1 6 6" />
  </Icon>
);

export const CloseIcon = (): JSX.Element => (
  <Icon>
    <path d="M6 6l12 12M18 6 6 18" />
  </Icon>
);

export const BackIcon = (): JSX.Element => (
  <Icon>
    <path d="M15 5l-7 7 7 7" />
  </Icon>
);

export const ShieldIcon = (): JSX.Element => (
  <Icon>
    <path d="M12 3 4 6v6c0 5 3.5 8 8 9 4.5-1 8-4 8-9V6z" />
    <path d="M9 12l2 2 4-4" />
  </Icon>
);

export const WarningIcon = (): JSX.Element => (
  <Icon>
    <path d="M12 3 2 21h20z" />
    <path d="M12 10v5M12 18v.01" />
  </Icon>
);

/** The Parus mark: a great tit (Parus major) — black cap, white cheek, yellow breast. */
export function ParusLogo({ size = 72 }: { size?: number }): JSX.Element {
  return (
    <svg class="logo" width={size} height={size} viewBox="0 0 64 64" aria-hidden="true" focusable="false">
      <circle class="logo-bg" cx="32" cy="32" r="31" />
      <path d="M17 46c2-14 10-22 21-22 7 0 11 5 11 12 0 9-8 15-19 15-6 0-10-2-13-5z" fill="#f6c945" />
      <path d="M30 25c6-1 13 1 17 6-3 8-11 12-19 12z" fill="#5b7d8f" />
      <path d="M36 30v20" stroke="#1d1d1f" stroke-width="3" stroke-linecap="round" />
      <circle cx="27" cy="22" r="11" fill="#1d1d1f" />
      <ellipse cx="25" cy="25" rx="6" ry="4.5" fill="#fff" />
      <circle cx="23" cy="19" r="1.6" fill="#fff" />
      <path d="M16 21l-6 2 6 1z" fill="#1d1d1f" />
      <path d="M46 40l9 6-10-1z" fill="#5b7d8f" />
    </svg>
  );
}

export const EmojiIcon = (): JSX.Element => (
  <Icon>
    <circle cx="12" cy="12" r="9" />
    <path d="M8 14c1 1.5 2.4 2.2 4 2.2s3-.7 4-2.2" />
    <path d="M9 9.5v.01M15 9.5v.01" />
  </Icon>
);

export const StickerIcon = (): JSX.Element => (
  <Icon>
    <path d="M20 12V7a3 3 0 0 0-3-3H7a3 3 0 0 0-3 3v10a3 3 0 0 0 3 3h5z" />
    <path d="M12 20c0-4.5 3.5-8 8-8" />
  </Icon>
);

export const BellIcon = (): JSX.Element => (
  <Icon>
    <path d="M6 16V11a6 6 0 0 1 12 0v5l2 2H4z" />
    <path d="M10 20a2 2 0 0 0 4 0" />
  </Icon>
);

export const MutedIcon = (): JSX.Element => (
  <Icon>
    <path d="M6 16V11a6 6 0 0 1 9.5-4.9M18 11v5l2 2H8" />
    <path d="M10 20a2 2 0 0 0 4 0" />
    <path d="M4 4l16 16" />
  </Icon>
);

export const CameraIcon = (): JSX.Element => (
  <Icon>
    <path d="M4 8h3l2-3h6l2 3h3v11H4z" />
    <circle cx="12" cy="13" r="3.5" />
  </Icon>
);

export const ImageIcon = (): JSX.Element => (
  <Icon>
    <rect x="3" y="4" width="18" height="16" rx="2" />
    <circle cx="9" cy="10" r="2" />
    <path d="M21 16l-5-5-9 9" />
  </Icon>
);

export const AttachIcon = (): JSX.Element => (
  <Icon>
    <path d="M21 11.5 12.5 20a5 5 0 0 1-7-7L14 4.5a3.5 3.5 0 0 1 5 5L10.5 18a2 2 0 0 1-3-3L15 7.5" />
  </Icon>
);

export const MoreIcon = (): JSX.Element => (
  <Icon>
    <circle cx="5" cy="12" r="1" />
    <circle cx="12" cy="12" r="1" />
    <circle cx="19" cy="12" r="1" />
  </Icon>
);

export const FileIcon = (): JSX.Element => (
  <Icon>
    <path d="M14 3H6a1 1 0 0 0-1 1v16a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V8z" />
    <path d="M14 3v5h5" />
  </Icon>
);
