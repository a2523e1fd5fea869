/**
 * The buttons at the right of a chat's header (calls, bell, 安全碼, 成員, share). Where the chat is
 * narrow (a phone at 390 px: the chat's own width, by a container query in styles.css) they move
 * into a ⋯ menu, so that the title keeps its room; wide, they stand in the header as before.
 * The same buttons in both places: nothing is rendered twice.
 */
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useI18n } from '../i18n.ts';
import { MoreIcon } from './icons.tsx';

export function HeaderActions(props: { children: ComponentChildren }): JSX.Element {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const away = (e: PointerEvent): void => {
      if (box.current && !box.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('pointerdown', away);
    return () => document.removeEventListener('pointerdown', away);
  }, [open]);
  return (
    <div
      class={`head-actions${open ? ' head-actions-open' : ''}`}
      ref={box}
      onKeyDown={(e) => {
        if (e.key === 'Escape' && open) {
          e.stopPropagation();
          setOpen(false);
        }
      }}
    >
      <button
        type="button"
        class="icon-button head-more"
        aria-label={t('chat.headMore')}
        title={t('chat.headMore')}
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        <MoreIcon />
      </button>
      <div class="head-actions-items" onClick={() => setOpen(false)}>
        {props.children}
      </div>
    </div>
  );
}
