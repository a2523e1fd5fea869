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
import { Avatar } from './avatar.tsx';
import { PeerText } from './peer-text.tsx';

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
  classes?: string;
  /** A class for the bubble besides `bubble`. */
  bubbleClass?: string;
  /** Group chats: the bubble sits in a body, under the sender's name when there is one. */
  sender?: { name?: string | undefined };
  /** Marks in the meta line, before the time. */
  meta?: ComponentChildren;
  /** After the meta line (buttons, a menu). */
  after?: ComponentChildren;
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
      {props.sender ? (
        <div class="msg-body">
          {props.sender.name !== undefined && (
            <span class="msg-from">
              <PeerText text={props.sender.name} />
            </span>
          )}
          {bubble}
        </div>
      ) : (
        bubble
      )}
      <span class="msg-meta">
        {props.meta}
        <time dateTime={props.at.toISOString()}>{formatClock(props.at, props.t)}</time>
      </span>
      {props.after}
    </li>
  );
}
