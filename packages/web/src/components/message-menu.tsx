/**
 * What can be done with one message, as LINE offers it on a long press: a row of reactions,
 * 回覆 (reply), 複製 (copy), 轉傳 (forward), 釘選 (pin, groups), 刪除 (delete for me) and, on my
 * own messages, 收回 (unsend). It opens from the ⋯ button beside the bubble, a right
 * click, or a long press; it is a WAI-ARIA menu (arrow keys move, Escape closes and gives
 * the focus back to the button).
 */
import type { JSX } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { useI18n } from '../i18n.ts';

export interface MenuItem {
  label: string;
  danger?: boolean;
  onSelect: () => void;
}

export function MessageMenu(props: {
  items: MenuItem[];
  /** A row of reactions on top (one of them is mine at most; picking it again takes it back). */
  reactions?: { choices: readonly string[]; onPick: (emoji: string) => void } | undefined;
  onClose: (refocus: boolean) => void;
  /** The menu's name (default 訊息選項). */
  label?: string;
}): JSX.Element {
  const { t } = useI18n();
  const ref = useRef<HTMLDivElement>(null);
  // Before paint: the menu never shows without the focus on its first item.
  useLayoutEffect(() => {
    // Over the message unless that hides it above the scrolling list (the first messages, under
    // the 公告 bar): then under it.
    const el = ref.current;
    const box = el?.closest('.messages, .chat-list');
    if (el && box && el.getBoundingClientRect().top < box.getBoundingClientRect().top)
      el.classList.add('message-menu-below');
    // The first action (回覆), not the row of reactions above it.
    const first =
      ref.current?.querySelector<HTMLButtonElement>('[role="menuitem"]:not(.reaction-choice)') ??
      ref.current?.querySelector<HTMLButtonElement>('[role="menuitem"]');
    first?.focus();
    const outside = (e: PointerEvent): void => {
      if (!ref.current?.contains(e.target as Node)) props.onClose(false);
    };
    document.addEventListener('pointerdown', outside, true);
    return () => document.removeEventListener('pointerdown', outside, true);
  }, []);

  const onKeyDown = (e: KeyboardEvent): void => {
    const items = Array.from(ref.current?.querySelectorAll<HTMLButtonElement>('[role="menuitem"]') ?? []);
    const at = items.indexOf(document.activeElement as HTMLButtonElement);
    let next: number | undefined;
    if (e.key === 'ArrowDown') next = (at + 1) % items.length;
    else if (e.key === 'ArrowUp') next = (at - 1 + items.length) % items.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = items.length - 1;
    else if (e.key === 'Escape' || e.key === 'Tab') {
      if (e.key === 'Escape') e.preventDefault();
      e.stopPropagation();
      props.onClose(e.key === 'Escape');
      return;
    }
    if (next === undefined) return;
    e.preventDefault();
    items[next]?.focus();
  };

  return (
    <div
      ref={ref}
      class="message-menu"
      role="menu"
      aria-label={props.label ?? t('msg.menu')}
      onKeyDown={onKeyDown}
    >
      {props.reactions && (
        <div class="reaction-choices" role="group" aria-label={t('msg.react')}>
          {props.reactions.choices.map((emoji) => (
            <button
              type="button"
              role="menuitem"
              key={emoji}
              class="reaction-choice"
              aria-label={t('msg.reactWith', { emoji })}
              onClick={() => {
                props.onClose(false);
                props.reactions?.onPick(emoji);
              }}
            >
              {emoji}
            </button>
          ))}
        </div>
      )}
      {props.items.map((item) => (
        <button
          type="button"
          role="menuitem"
          key={item.label}
          class={item.danger ? 'danger' : undefined}
          onClick={() => {
            props.onClose(false);
            item.onSelect();
          }}
        >
          {item.label}
        </button>
      ))}
    </div>
  );
}
