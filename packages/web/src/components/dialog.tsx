/**
 * A modal built on <dialog>: showModal() gives the focus trap, the inert background and
 * Escape for free; Escape and the close button both call onClose.
 */
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';
import { useI18n } from '../i18n.ts';
import { CloseIcon } from './icons.tsx';

export function Dialog(props: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  class?: string;
}): JSX.Element {
  const { t } = useI18n();
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const onClose = useRef(props.onClose);
  onClose.current = props.onClose;
  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal();
    const cancel = (e: Event): void => {
      e.preventDefault();
      onClose.current();
    };
    d.addEventListener('cancel', cancel);
    return () => {
      d.removeEventListener('cancel', cancel);
      if (d.open) d.close();
    };
  }, []);
  return (
    <dialog ref={ref} class={`dialog ${props.class ?? ''}`} aria-labelledby={titleId}>
      <header class="dialog-head">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" class="icon-button" aria-label={t('friend.close')} onClick={props.onClose}>
          <CloseIcon />
        </button>
      </header>
      <div class="dialog-body">{props.children}</div>
    </dialog>
  );
}
