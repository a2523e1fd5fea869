/**
 * The message box, safe with Zhuyin, Cangjie and every other IME: Enter while a
 * composition is open only confirms the candidate. Three signals cover the browsers:
 * `isComposing` on the key event, our own compositionstart/compositionend flag, and
 * keyCode 229 (the "IME is processing" code, which Safari sends for the Enter that ends a
 * composition right after compositionend). Enter sends, Shift+Enter makes a new line.
 *
 * It also reads slash commands (compose/commands.ts): /help opens a local help card, /me
 * goes to `onAction`, an unknown command is an inline error and nothing is sent. The emoji
 * panel inserts at the caret; the sticker panel shows when the parent can send stickers.
 * `onTyping` is called, throttled, while the draft changes (compose/typing.ts).
 */
import type { JSX } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { insertAtCaret } from '../compose/caret.ts';
import { COMMANDS, parseCommand, type GroupCommandName } from '../compose/commands.ts';
import { typingThrottle } from '../compose/typing.ts';
import { useI18n } from '../i18n.ts';
import { EmojiPicker } from './emoji-picker.tsx';
import { HelpCard } from './help-card.tsx';
import { AttachIcon, EmojiIcon, SendIcon, StickerIcon } from './icons.tsx';
import { StickerPicker } from './sticker-picker.tsx';

const IME_PROCESSING = 229;

export function isImeEnter(e: KeyboardEvent, composing: boolean): boolean {
  return composing || e.isComposing || e.keyCode === IME_PROCESSING;
}

export interface ComposerProps {
  value: string;
  onChange: (value: string) => void;
  /** Send this text (what the draft says, after "//" became "/"). */
  onSend: (text: string) => void;
  /** `/me TEXT`: an action. */
  onAction: (text: string) => void;
  /** The user is typing (at most once per TYPING_INTERVAL_MS). */
  onTyping?: () => void;
  /** Given: a sticker button opens the sticker panel. */
  onSticker?: (pack: string, id: string) => void;
  /** Given: an attach button picks files, and pasting an image hands it over too. */
  onFiles?: (files: File[]) => void;
  disabled?: boolean;
  inputRef?: { current: HTMLTextAreaElement | null };
  /** A group chat: the group commands (/topic /kick …) go to `onGroupCommand`. */
  chat?: 'direct' | 'group';
  onGroupCommand?: (name: GroupCommandName, arg: string) => void;
  /** Sees each key in the message box first (a completion list); true when it used the key. */
  onKeyFirst?: (e: KeyboardEvent) => boolean;
  /** ARIA for a completion list the box controls (role combobox while one is given). */
  combo?: { listId: string; expanded: boolean; activeId?: string | undefined };
}

type Panel = 'none' | 'emoji' | 'sticker';

export function Composer(props: ComposerProps): JSX.Element {
  const { t } = useI18n();
  const composing = useRef(false);
  const input = useRef<HTMLTextAreaElement | null>(null);
  const caret = useRef<number | undefined>(undefined);
  const [panel, setPanel] = useState<Panel>('none');
  const [help, setHelp] = useState(false);
  const [error, setError] = useState('');
  const onTyping = useRef(props.onTyping);
  onTyping.current = props.onTyping;
  const typing = useMemo(() => typingThrottle(() => onTyping.current?.(), { now: () => Date.now() }), []);

  useLayoutEffect(() => {
    const at = caret.current;
    const el = input.current;
    if (at === undefined || !el) return;
    caret.current = undefined;
    el.focus();
    el.setSelectionRange(at, at);
  }, [props.value]);

  useEffect(() => {
    if (props.disabled) setPanel('none');
  }, [props.disabled]);

  const change = (value: string): void => {
    if (value !== props.value) {
      setError('');
      if (value !== '') typing.changed();
    }
    props.onChange(value);
  };

  const submit = (): void => {
    const draft = props.value;
    if (draft.trim() === '' || props.disabled) return;
    const parsed = parseCommand(draft, { chat: props.chat ?? 'direct' });
    switch (parsed.kind) {
      case 'text':
        setError('');
        typing.reset();
        props.onSend(parsed.text);
        return;
      case 'me':
        setError('');
        typing.reset();
        props.onAction(parsed.text);
        return;
      case 'group':
        setError('');
        typing.reset();
        props.onGroupCommand?.(parsed.name, parsed.arg);
        return;
      case 'help':
        setError('');
        setHelp(true);
        props.onChange('');
        return;
      case 'missing-argument': {
        const spec = COMMANDS.find((c) => c.name === parsed.name);
        setError(t('command.missing', { usage: spec ? t(spec.usage) : `/${parsed.name}` }));
        return;
      }
      case 'not-here':
        setError(t('command.notHere', { command: `/${parsed.name}` }));
        return;
      case 'unknown':
        setError(t('command.unknown', { command: `/${parsed.name}` }));
        return;
    }
  };

  const onKeyDown = (e: KeyboardEvent): void => {
    if (!isImeEnter(e, composing.current) && props.onKeyFirst?.(e)) {
      e.preventDefault();
      return;
    }
    if (e.key !== 'Enter') return;
    if (isImeEnter(e, composing.current)) return;
    if (e.shiftKey) return; // a new line, as the browser does by default
    e.preventDefault();
    submit();
  };

  const insert = (text: string): void => {
    const el = input.current;
    const end = props.value.length;
    const selection = el ? { start: el.selectionStart, end: el.selectionEnd } : { start: end, end };
    const next = insertAtCaret(props.value, selection, text);
    caret.current = next.caret;
    change(next.value);
  };

  const toggle = (which: Panel): void => setPanel((p) => (p === which ? 'none' : which));
  const onSticker = props.onSticker;
  const onFiles = props.onFiles;
  const picker = useRef<HTMLInputElement>(null);

  return (
    <div
      class="composer-area"
      onKeyDown={(e) => {
        if (e.key !== 'Escape' || (panel === 'none' && !help)) return;
        e.preventDefault();
        e.stopPropagation();
        if (panel !== 'none') setPanel('none');
        else setHelp(false);
        input.current?.focus();
      }}
    >
      {help && <HelpCard chat={props.chat ?? 'direct'} onClose={() => setHelp(false)} />}
      {panel === 'emoji' && <EmojiPicker onPick={insert} />}
      {panel === 'sticker' && onSticker && (
        <StickerPicker
          onPick={(pack, id) => {
            setPanel('none');
            onSticker(pack, id);
          }}
        />
      )}
      {error && (
        <p id="composer-error" class="form-error composer-error" role="alert">
          {error}
        </p>
      )}
      <form
        class="composer"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <button
          type="button"
          class="icon-button"
          aria-label={t('emoji.open')}
          title={t('emoji.open')}
          aria-expanded={panel === 'emoji'}
          aria-pressed={panel === 'emoji'}
          disabled={props.disabled}
          onClick={() => toggle('emoji')}
        >
          <EmojiIcon />
        </button>
        {onSticker && (
          <button
            type="button"
            class="icon-button"
            aria-label={t('sticker.open')}
            title={t('sticker.open')}
            aria-expanded={panel === 'sticker'}
            aria-pressed={panel === 'sticker'}
            disabled={props.disabled}
            onClick={() => toggle('sticker')}
          >
            <StickerIcon />
          </button>
        )}
        {onFiles && (
          <>
            <button
              type="button"
              class="icon-button attach-button"
              aria-label={t('file.attach')}
              title={t('file.attach')}
              disabled={props.disabled}
              onClick={() => picker.current?.click()}
            >
              <AttachIcon />
            </button>
            <input
              ref={picker}
              type="file"
              multiple
              hidden
              aria-label={t('file.attach')}
              onChange={(e) => {
                const files = Array.from(e.currentTarget.files ?? []);
                e.currentTarget.value = '';
                if (files.length > 0) onFiles(files);
              }}
            />
          </>
        )}
        <textarea
          ref={(el) => {
            input.current = el;
            if (props.inputRef) props.inputRef.current = el;
          }}
          rows={1}
          aria-label={t('chat.composer')}
          placeholder={t('chat.placeholder')}
          aria-describedby={error ? 'composer-keys composer-error' : 'composer-keys'}
          aria-invalid={error ? true : undefined}
          role={props.combo ? 'combobox' : undefined}
          aria-autocomplete={props.combo ? 'list' : undefined}
          aria-controls={props.combo?.expanded ? props.combo.listId : undefined}
          aria-expanded={props.combo ? props.combo.expanded : undefined}
          aria-activedescendant={props.combo?.expanded ? props.combo.activeId : undefined}
          value={props.value}
          disabled={props.disabled}
          onInput={(e) => change(e.currentTarget.value)}
          onCompositionStart={() => {
            composing.current = true;
          }}
          onCompositionEnd={(e) => {
            composing.current = false;
            change(e.currentTarget.value);
          }}
          onKeyDown={onKeyDown}
          onPaste={(e) => {
            // A pasted screenshot or copied photo is sent as a photo, as in LINE.
            const files = Array.from(e.clipboardData?.files ?? []).filter((f) => f.type.startsWith('image/'));
            if (!onFiles || files.length === 0) return;
            e.preventDefault();
            onFiles(files);
          }}
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
    </div>
  );
}
