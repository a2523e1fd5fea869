/**
 * One conversation: bubbles with the time beside them, day headings (今天, 昨天, …),
 * ✓ / ✓✓ / 已讀 on my messages, replies, the security banners, and the composer.
 */
import type { JSX } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { MessageInfo } from '@parus/client';
import type { Session } from '../engine-loader.ts';
import { errorName } from '../errors.ts';
import { formatClock, formatDay } from '../format-time.ts';
import { useI18n, type Translate } from '../i18n.ts';
import { Avatar } from './avatar.tsx';
import { actionAsPlainText } from '../compose/commands.ts';
import { Composer } from './composer.tsx';
import { BackIcon, BellIcon, CloseIcon, MutedIcon, ReplyIcon, ShieldIcon, WarningIcon } from './icons.tsx';
import { TypingIndicator } from './typing-indicator.tsx';

function StatusMark({ status, t }: { status: MessageInfo['status']; t: Translate }): JSX.Element | null {
  if (status === 'received') return null;
  const label = t(`chat.status.${status}`);
  if (status === 'read') return <span class="status status-read">{label}</span>;
  const mark = status === 'pending' ? '…' : status === 'sent' ? '✓' : '✓✓';
  return (
    <span class={`status status-${status}`}>
      <span aria-hidden="true">{mark}</span>
      <span class="visually-hidden">{label}</span>
    </span>
  );
}

function snippet(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 60 ? `${one.slice(0, 60)}…` : one;
}

export function ChatView(props: {
  session: Session;
  alias: string;
  version: number;
  onBack: () => void;
  onSafety: () => void;
  muted: boolean;
  onToggleMute: () => void;
  /** When the friend's last typing signal expires (none until the engine carries typing). */
  typingUntil?: number;
}): JSX.Element | null {
  const { t } = useI18n();
  const { session, alias } = props;
  const contact = session.contact(alias);
  const messages = session.messages(alias);
  const [draft, setDraft] = useState('');
  const [replyTo, setReplyTo] = useState<MessageInfo | undefined>();
  const [error, setError] = useState('');
  const [promptDismissed, setPromptDismissed] = useState(false);
  const list = useRef<HTMLOListElement>(null);
  const input = useRef<HTMLTextAreaElement | null>(null);
  const stick = useRef(true);
  const sending = useRef(false);

  useEffect(() => {
    session.setActive(alias);
    return () => session.setActive(undefined);
  }, [session, alias]);

  useLayoutEffect(() => {
    const el = list.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [messages.length, props.version]);

  if (!contact) return null;
  const name = contact.alias;

  const send = async (typed: string): Promise<void> => {
    const text = typed.replace(/\s+$/u, '');
    if (text.trim() === '' || sending.current) return;
    const draftBefore = draft;
    sending.current = true;
    setError('');
    setDraft('');
    const reply = replyTo;
    setReplyTo(undefined);
    stick.current = true;
    try {
      await session.send(alias, text, reply?.id);
    } catch (e) {
      setDraft(draftBefore);
      setReplyTo(reply);
      setError(t('chat.sendFailed', { name: errorName(e) }));
    } finally {
      sending.current = false;
    }
  };

  const startReply = (m: MessageInfo): void => {
    setReplyTo(m);
    input.current?.focus();
  };

  const now = new Date();
  const byId = new Map(messages.map((m) => [m.id, m]));
  const rows: JSX.Element[] = [];
  let lastDay = '';
  for (const m of messages) {
    const at = new Date(m.ts);
    const day = at.toDateString();
    if (day !== lastDay) {
      lastDay = day;
      rows.push(
        <li key={`day-${day}`} class="day-sep">
          <span>{formatDay(at, now, t)}</span>
        </li>,
      );
    }
    const quoted = m.replyTo ? byId.get(m.replyTo) : undefined;
    const who = m.dir === 'out' ? t('chat.you') : name;
    rows.push(
      <li key={m.id} class={`msg msg-${m.dir}`} data-id={m.id}>
        {m.dir === 'in' && <Avatar name={name} small />}
        <div class="bubble">
          <span class="visually-hidden">{who}: </span>
          {quoted && (
            <span class="quote">
              <span class="quote-name">{quoted.dir === 'out' ? t('chat.you') : name}</span>
              <span class="quote-text">{snippet(quoted.text)}</span>
            </span>
          )}
          <span class="text">{m.text}</span>
        </div>
        <span class="msg-meta">
          {m.dir === 'out' && <StatusMark status={m.status} t={t} />}
          <time dateTime={at.toISOString()}>{formatClock(at, t)}</time>
        </span>
        <button
          type="button"
          class="icon-button reply-button"
          aria-label={t('chat.reply')}
          onClick={() => startReply(m)}
        >
          <ReplyIcon />
        </button>
      </li>,
    );
  }

  const compromised = contact.state === 'compromised';
  return (
    <section class="chat" aria-label={name}>
      <header class="chat-head">
        <button
          type="button"
          class="icon-button back-button"
          aria-label={t('main.back')}
          onClick={props.onBack}
        >
          <BackIcon />
        </button>
        <Avatar name={name} />
        <div class="chat-title">
          <h2>{name}</h2>
          <span class={`state-tag state-${contact.state}`}>
            {contact.state === 'validated' ? (
              <ShieldIcon />
            ) : contact.state === 'compromised' ? (
              <WarningIcon />
            ) : null}
            {t(`state.${contact.state}`)}
          </span>
        </div>
        <button
          type="button"
          class="icon-button mute-button"
          aria-label={t('chat.mute')}
          title={props.muted ? t('chat.muted') : t('chat.mute')}
          aria-pressed={props.muted}
          onClick={props.onToggleMute}
        >
          {props.muted ? <MutedIcon /> : <BellIcon />}
        </button>
        <button type="button" class="pill-button" onClick={props.onSafety}>
          <ShieldIcon />
          {t('chat.safety')}
        </button>
      </header>

      {contact.keyChanged && (
        <div class="banner banner-danger" role="alert">
          <WarningIcon />
          <p>{t('chat.keyChanged', { name })}</p>
          <button type="button" onClick={props.onSafety}>
            {t('chat.verifyAction')}
          </button>
        </div>
      )}
      {compromised && (
        <div class="banner banner-danger" role="alert">
          <WarningIcon />
          <p>{t('chat.compromised', { name })}</p>
        </div>
      )}
      {contact.status === 'pending' && (
        <div class="banner banner-info" role="status">
          <p>{t('chat.pending', { name })}</p>
        </div>
      )}
      {contact.state === 'unvalidated' &&
        !contact.keyChanged &&
        contact.status === 'active' &&
        !promptDismissed && (
          <div class="banner banner-gentle" role="status">
            <ShieldIcon />
            <p>{t('chat.verifyPrompt', { name })}</p>
            <div class="row">
              <button type="button" class="primary" onClick={props.onSafety}>
                {t('chat.verifyAction')}
              </button>
              <button type="button" onClick={() => setPromptDismissed(true)}>
                {t('chat.verifyDismiss')}
              </button>
            </div>
          </div>
        )}

      <ol
        ref={list}
        class="messages"
        tabIndex={0}
        aria-label={t('chat.messages', { name })}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
        }}
      >
        {rows}
      </ol>

      {replyTo && (
        <div class="reply-bar">
          <ReplyIcon />
          <p>
            <strong>{t('chat.replyTo', { name: replyTo.dir === 'out' ? t('chat.you') : name })}</strong>{' '}
            <span>{snippet(replyTo.text)}</span>
          </p>
          <button
            type="button"
            class="icon-button"
            aria-label={t('chat.replyCancel')}
            onClick={() => setReplyTo(undefined)}
          >
            <CloseIcon />
          </button>
        </div>
      )}
      {error && (
        <p class="form-error chat-error" role="alert">
          {error}
        </p>
      )}
      <TypingIndicator name={name} typingUntil={props.typingUntil} />
      <Composer
        value={draft}
        onChange={setDraft}
        onSend={(text) => void send(text)}
        // Until the engine carries actions, /me goes out as plain text ("* Amei waves");
        // the wiring step replaces actionAsPlainText with the engine's action message.
        onAction={(text) => void send(actionAsPlainText(session.name, text))}
        disabled={compromised}
        inputRef={input}
      />
    </section>
  );
}
