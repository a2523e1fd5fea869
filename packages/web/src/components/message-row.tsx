/**
 * One message in a conversation, as the 1:1 chat (chat-view.tsx) and a group chat
 * (group-view.tsx) both show it: the row, the sender's avatar on incoming messages, the
 * bubble (in a group, under the sender's name), the meta line that ends with the time, and
 * whatever the view adds after it (buttons, a menu). Also the day headings between messages.
 */
import type { ComponentChildren, JSX } from 'preact';
import type { MessageInfo } from '@parus/client';
import { formatClock, formatDay } from '../format-time.ts';
import type { Translate } from '../i18n.ts';
import type { RefObject } from 'preact';
import { useRef } from 'preact/hooks';
import { Dialog } from './dialog.tsx';
import { Avatar } from './avatar.tsx';
import { CloseIcon, MoreIcon, ReplyIcon } from './icons.tsx';
import { MessageMenu, type MenuItem } from './message-menu.tsx';
import { messagePreview } from './message-preview.ts';
import { Marked, PeerText } from './peer-text.tsx';
import { StickerView } from './sticker-view.tsx';

/** The rows of `messages` in order, with a day heading (今天, 昨天, …) before each new day. */
export function withDayHeadings<M extends { ts: number }>(
  messages: readonly M[],
  now: Date,
  t: Translate,
  row: (m: M, at: Date) => JSX.Element,
): JSX.Element[] {
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
    rows.push(row(m, at));
  }
  return rows;
}

export function MessageRow(props: {
  message: Pick<MessageInfo, 'id' | 'dir'>;
  at: Date;
  t: Translate;
  /** Whose avatar an incoming message shows. */
  avatar: string;
  /** More classes for the row, each with its leading space. */
  classes?: string | undefined;
  /** A class for the bubble besides `bubble`. */
  bubbleClass?: string;
  /** Group chats: the bubble sits in a body, under the sender's name when there is one. */
  sender?: { name?: string | undefined } | undefined;
  /** Marks in the meta line, before the time. */
  meta?: ComponentChildren;
  /** After the meta line (buttons, a menu). */
  after?: ComponentChildren;
  /** Under the bubble (reactions). */
  below?: ComponentChildren;
  /** The row's `data-kind` (what the bubble holds), when the view marks it. */
  kind?: string;
  /** Handlers of the row. */
  row?: Pick<
    JSX.HTMLAttributes<HTMLLIElement>,
    'onContextMenu' | 'onPointerDown' | 'onPointerUp' | 'onPointerCancel' | 'onPointerMove'
  >;
  children: ComponentChildren;
}): JSX.Element {
  const m = props.message;
  const bubble = (
    <div class={props.bubbleClass ? `bubble ${props.bubbleClass}` : 'bubble'}>{props.children}</div>
  );
  return (
    <li class={`msg msg-${m.dir}${props.classes ?? ''}`} data-id={m.id} data-kind={props.kind} {...props.row}>
      {m.dir === 'in' && <Avatar name={props.avatar} small />}
      <div class="msg-body">
        {props.sender?.name !== undefined && (
          <span class="msg-from">
            <PeerText text={props.sender.name} />
          </span>
        )}
        <div class="msg-line">
          {bubble}
          <span class="msg-meta">
            {props.meta}
            <time dateTime={props.at.toISOString()}>{formatClock(props.at, props.t)}</time>
          </span>
        </div>
        {props.below}
      </div>
      {props.after}
    </li>
  );
}

/** The reactions offered (core REACTIONS; kept here so the first screen needs no engine code). */
export const REACTION_CHOICES = ['👍', '❤️', '😂', '😮', '😢', '🙏'] as const;

/** How long a finger rests on a bubble before its menu opens (LINE's long press). */
const LONG_PRESS_MS = 500;

/** An http(s) address: RFC 3986 characters only, so that text written right after it (中文) is not taken in. */
const URL_PATTERN = /\bhttps?:\/\/[A-Za-z0-9\-._~:/?#[\]@!$&()*+,;=%]+/giu;

/**
 * Peer text with its http(s) addresses as links (nothing is fetched for them: no previews).
 * Any other scheme stays text. `plain` renders a piece that is not an address.
 */
export function Linked(props: {
  text: string;
  plain?: (text: string, key: number) => ComponentChildren;
}): JSX.Element {
  const out: ComponentChildren[] = [];
  let at = 0;
  let k = 0;
  const plain = props.plain ?? ((text: string, key: number) => <Marked key={key} text={text} multiline />);
  for (const match of props.text.matchAll(URL_PATTERN)) {
    // Trailing punctuation belongs to the sentence, not the address.
    const url = match[0].replace(/[.,;:!?)\]}。，、！？）」』]+$/u, '');
    const start = match.index;
    if (start > at) out.push(plain(props.text.slice(at, start), k++));
    out.push(
      <a key={k++} class="msg-link" href={url} target="_blank" rel="noopener noreferrer">
        <Marked text={url} />
      </a>,
    );
    at = start + url.length;
  }
  if (at < props.text.length) out.push(plain(props.text.slice(at), k++));
  return <>{out}</>;
}

/** What a message's menu offers; each given handler adds its item. */
export interface MessageActions {
  reply?: (() => void) | undefined;
  copy?: (() => void) | undefined;
  forward?: (() => void) | undefined;
  react?: ((emoji: string) => void) | undefined;
  pin?: (() => void) | undefined;
  deleteForMe?: (() => void) | undefined;
  unsend?: (() => void) | undefined;
}

/**
 * One message of a conversation, 1:1 or group: the row (MessageRow), the quote (a click jumps
 * to the quoted message), the contents by kind (text with links, /me action, sticker, file,
 * tombstone), the reactions under the bubble, the reply button and the ⋯ menu (also on a right
 * click or a long press).
 */
export function ChatMessage(props: {
  m: MessageInfo;
  at: Date;
  t: Translate;
  /** Who wrote it, as shown (me: my name). */
  author: string;
  /** Whose avatar an incoming message shows. */
  avatar: string;
  /** Group chats: the sender's name over the bubble (undefined: none). */
  sender?: { name?: string | undefined } | undefined;
  classes?: string | undefined;
  meta?: ComponentChildren;
  /** Before the contents (a "mentions you" flag). */
  flag?: ComponentChildren;
  /** The quoted message: who (already a label) and a one-line preview. */
  quote?: { name: ComponentChildren; text: string } | undefined;
  /** Text rendering (groups mark mentions); default: Linked. */
  text?: (text: string) => ComponentChildren;
  /** A file's bubble. */
  file?: ComponentChildren;
  /** A call-log entry's line (calls/, decision 0046). */
  call?: ComponentChildren;
  actions: MessageActions;
  menuOpen: boolean;
  setMenu: (open: boolean) => void;
  onCloseMenu: (refocus: boolean) => void;
}): JSX.Element {
  const { m, t, actions } = props;
  const longPress = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const items: MenuItem[] = [];
  if (!m.unsent) {
    if (actions.reply) items.push({ label: t('chat.reply'), onSelect: actions.reply });
    if (actions.copy && m.text && !m.sticker && !m.file)
      items.push({ label: t('msg.copy'), onSelect: actions.copy });
    if (actions.forward) items.push({ label: t('msg.forward'), onSelect: actions.forward });
    if (actions.pin && m.text && !m.sticker && !m.file)
      items.push({ label: t('msg.pin'), onSelect: actions.pin });
  }
  if (actions.deleteForMe && !m.unsent)
    items.push({ label: t('msg.deleteForMe'), danger: true, onSelect: actions.deleteForMe });
  if (actions.unsend && m.dir === 'out' && !m.unsent)
    items.push({ label: t('msg.unsend'), danger: true, onSelect: actions.unsend });
  const react = !m.unsent ? actions.react : undefined;
  const kind = m.unsent
    ? 'unsent'
    : m.sticker
      ? 'sticker'
      : m.file
        ? 'file'
        : m.action || m.kind === 'action'
          ? 'action'
          : 'text';
  const text = props.text ?? ((s: string) => <Linked text={s} />);
  const counts = new Map<string, { n: number; me: boolean; from: string[] }>();
  for (const r of m.reactions ?? []) {
    const c = counts.get(r.emoji) ?? { n: 0, me: false, from: [] };
    c.n++;
    c.me ||= r.me === true;
    c.from.push(r.from);
    counts.set(r.emoji, c);
  }
  const jump = (): void => {
    const el = document.querySelector<HTMLElement>(`li.msg[data-id="${m.replyTo}"]`);
    if (!el) return;
    el.scrollIntoView({ block: 'center' });
    el.classList.add('msg-flash');
    setTimeout(() => el.classList.remove('msg-flash'), 1500);
  };
  return (
    <MessageRow
      message={m}
      at={props.at}
      t={t}
      avatar={props.avatar}
      classes={props.classes}
      bubbleClass={`bubble-${kind}`}
      kind={kind}
      sender={props.sender}
      row={{
        onContextMenu: (e) => {
          if (items.length === 0) return;
          e.preventDefault();
          props.setMenu(true);
        },
        onPointerDown: (e) => {
          if (e.pointerType !== 'touch' || items.length === 0) return;
          clearTimeout(longPress.current);
          longPress.current = setTimeout(() => props.setMenu(true), LONG_PRESS_MS);
        },
        onPointerUp: () => clearTimeout(longPress.current),
        onPointerCancel: () => clearTimeout(longPress.current),
        onPointerMove: () => clearTimeout(longPress.current),
      }}
      meta={props.meta}
      below={
        counts.size > 0 && (
          <ul class="reactions" aria-label={t('msg.reactions')}>
            {[...counts].map(([emoji, c]) => (
              <li key={emoji}>
                <button
                  type="button"
                  class={c.me ? 'reaction reaction-mine' : 'reaction'}
                  aria-pressed={c.me}
                  title={c.from.join('、')}
                  disabled={!react}
                  onClick={() => react?.(c.me ? '' : emoji)}
                >
                  {emoji}
                  {c.n > 1 && <span class="reaction-count">{c.n}</span>}
                </button>
              </li>
            ))}
          </ul>
        )
      }
      after={
        <>
          {!m.unsent && actions.reply && (
            <button
              type="button"
              class="icon-button reply-button"
              aria-label={t('chat.reply')}
              onClick={actions.reply}
            >
              <ReplyIcon />
            </button>
          )}
          {(items.length > 0 || react) && (
            <button
              type="button"
              class="icon-button more-button"
              aria-label={t('msg.more')}
              aria-haspopup="menu"
              aria-expanded={props.menuOpen}
              onClick={() => props.setMenu(!props.menuOpen)}
            >
              <MoreIcon />
            </button>
          )}
          {props.menuOpen && (
            <MessageMenu
              items={items}
              reactions={react ? { choices: REACTION_CHOICES, onPick: react } : undefined}
              onClose={props.onCloseMenu}
            />
          )}
        </>
      }
    >
      {props.flag}
      <span class="visually-hidden">{m.dir === 'out' ? t('chat.you') : props.author}: </span>
      {props.quote && (
        <button type="button" class="quote" onClick={jump} aria-label={t('msg.jumpToQuote')}>
          <span class="quote-name">{props.quote.name}</span>
          <bdi class="quote-text">{props.quote.text}</bdi>
        </button>
      )}
      {m.unsent ? (
        <span class="text unsent">{messagePreview(m, t, props.author)}</span>
      ) : m.call && props.call ? (
        props.call
      ) : m.sticker ? (
        <StickerView pack={m.sticker.pack} id={m.sticker.id} />
      ) : m.file ? (
        props.file
      ) : kind === 'action' ? (
        <span class="text action action-text">
          * <PeerText text={props.author} /> <bdi class="peer-text">{text(m.text)}</bdi>
        </span>
      ) : (
        <bdi class="text peer-text">{text(m.text)}</bdi>
      )}
    </MessageRow>
  );
}

/** A message shortened for a quote or the reply bar. */
export function snippet(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/** Over the composer while replying: to whom, what, and a way to cancel. */
export function ReplyBar(props: {
  t: Translate;
  name: string;
  text: string;
  onCancel: () => void;
}): JSX.Element {
  const { t } = props;
  return (
    <div class="reply-bar">
      <ReplyIcon />
      <p>
        <strong>{t('chat.replyTo', { name: props.name })}</strong> <span>{props.text}</span>
      </p>
      <button type="button" class="icon-button" aria-label={t('chat.replyCancel')} onClick={props.onCancel}>
        <CloseIcon />
      </button>
    </div>
  );
}

/**
 * The scrolling list of a conversation's rows; it stays at the bottom while `stick` holds (the
 * reader has not scrolled up), also when a sticker or a preview gets its height on loading.
 */
export function MessageList(props: {
  t: Translate;
  name: string;
  list: RefObject<HTMLOListElement>;
  stick: { current: boolean };
  children: ComponentChildren;
}): JSX.Element {
  return (
    <ol
      ref={props.list}
      class="messages"
      tabIndex={0}
      aria-label={props.t('chat.messages', { name: props.name })}
      onLoadCapture={(e) => {
        const el = e.currentTarget;
        if (props.stick.current) el.scrollTop = el.scrollHeight;
      }}
      onScroll={(e) => {
        const el = e.currentTarget;
        props.stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
      }}
    >
      {props.children}
    </ol>
  );
}

/** 收回 asks first: the message disappears for `name` too. */
export function ConfirmUnsend(props: {
  t: Translate;
  name: string;
  onConfirm: () => void;
  onCancel: () => void;
}): JSX.Element {
  const { t } = props;
  return (
    <Dialog title={t('msg.unsendTitle')} class="confirm-unsend" onClose={props.onCancel}>
      <p>{t('msg.unsendBody', { name: props.name })}</p>
      <div class="row">
        <button type="button" class="danger" onClick={props.onConfirm}>
          {t('msg.unsend')}
        </button>
        <button type="button" onClick={props.onCancel}>
          {t('msg.cancel')}
        </button>
      </div>
    </Dialog>
  );
}
