/** How messages and contacts look in the terminal. */
import type { ContactInfo, MessageInfo } from '@parus/client';

const MARK: Record<MessageInfo['status'], string> = {
  pending: '…',
  sent: '✓',
  delivered: '✓✓',
  read: '已讀',
  received: '',
};

function pad(n: number): string {
  return n.toString().padStart(2, '0');
}

export function formatTime(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function formatMessage(m: MessageInfo, me = 'me'): string {
  if (m.group !== undefined) return formatGroupMessage(m, me);
  const who = m.dir === 'out' ? me : m.alias;
  const mark = m.dir === 'out' ? ` ${MARK[m.status]}` : '';
  const reply = m.replyTo ? ` ↪${m.replyTo.slice(0, 8)}` : '';
  return `[${formatTime(m.ts)}] ${who}:${reply} ${m.text}${mark}`;
}

/** `[time] group/author: text`, `* author waves`, with ✓✓ N and 已讀 N on my own messages. */
function formatGroupMessage(m: MessageInfo, me: string): string {
  const who = m.dir === 'out' ? me : (m.from ?? '?');
  let mark = '';
  if (m.dir === 'out')
    mark = m.readCount
      ? ` 已讀 ${m.readCount}`
      : m.deliveredCount
        ? ` ✓✓ ${m.deliveredCount}`
        : ` ${MARK.pending}`;
  const late = m.late ? ' (arrived late)' : '';
  const body =
    m.kind === 'action' ? `* ${who} ${m.text}` : m.kind === 'ping' ? `${who} pinged` : `${who}: ${m.text}`;
  return `[${formatTime(m.ts)}] ${m.alias} | ${body}${mark}${late}`;
}

export function formatContact(c: ContactInfo): string {
  const state =
    c.state === 'validated' ? '✔ validated' : c.state === 'compromised' ? '✘ COMPROMISED' : '? unvalidated';
  const status = c.status === 'pending' ? ' (waiting for their answer)' : '';
  const warn = c.keyChanged ? '  ⚠ key changed' : '';
  return `${c.alias}  ${state}${status}${warn}`;
}
