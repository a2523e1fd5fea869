/**
 * The message box, safe with Zhuyin, Cangjie and every other IME: Enter while a
 * composition is open only confirms the candidate. Three signals cover the browsers:
 * `isComposing` on the key event, our own compositionstart/compositionend flag, and
 * keyCode 229 (the "IME is processing" code, which Safari sends for the Enter that ends a
 * composition right after compositionend). Enter sends, Shift+Enter makes a new line.
 */
import type { JSX } from 'preact';
import { useRef } from 'preact/hooks';
import { useI18n } from '../i18n.ts';
import { SendIcon } from './icons.tsx';

const IME_PROCESSING = 229;

export function isImeEnter(e: KeyboardEvent, composing: boolean): boolean {
  return composing || e.isComposing || e.keyCode === IME_PROCESSING;
}

export function Composer(props: {
  value: string;
  onChange: (value: string) => void;
  onSend: () => void;
  disabled?: boolean;
  inputRef?: { current: HTMLTextAreaElement | null };
}): JSX.Element {
  const { t } = useI18n();
  const composing = useRef(false);

  const onKeyDown = (e: KeyboardEvent): void => {
    if (e.key !== 'Enter') return;
    if (isImeEnter(e, composing.current)) return;
    if (e.shiftKey) return; // a new line, as the browser does by default
    e.preventDefault();
    props.onSend();
  };

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSend();
      }}
    >
      <textarea
        ref={props.inputRef ?? null}
        rows={1}
        aria-label={t('chat.composer')}
        placeholder={t('chat.placeholder')}
        aria-describedby="composer-keys"
        value={props.value}
        disabled={props.disabled}
        onInput={(e) => props.onChange(e.currentTarget.value)}
        onCompositionStart={() => {
          composing.current = true;
        }}
        onCompositionEnd={(e) => {
          composing.current = false;
          props.onChange(e.currentTarget.value);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => {
          composing.current = false;
        }}
      />
      <span id="composer-keys" class="visually-hidden">
        {t('chat.keysHint')}
      </span>
      <button
        type="submit"
        class="send-button"
        aria-label={t('chat.send')}
        disabled={props.disabled || props.value.trim() === ''}
      >
        <SendIcon />
      </button>
    </form>
  );
}
