/**
 * How messages and contacts look in the terminal. Every piece of peer text (names, aliases,
 * messages, file names) goes through core's showText: a control, bidirectional or invisible
 * character is shown by a visible marker, never sent to the terminal (decision 0024).
 */
import { showText } from '@parus/core';
import type { ContactInfo, MessageInfo } from '@parus/client';
import { t } from './i18n.ts';

/** A name or other one-line peer text, as it may be printed. */
export function shown(s: string): string {
  return showText(s);
}

/**
 * A message's text, as it may be printed: each line break starts an indented line, so a line
 * of the message cannot pass for a line of ours (a message of its own, a notice).
 */
export function shownText(s: string): string {
  return showText(s, { multiline: true }).replace(/\n/g, '\n    ');
}

const MARK: Record<MessageInfo['status'], string> = {
  pending: '…',
  sent: '✓',
  failed: '', // t('format.failed')
  delivered: '✓✓',
  read: '', // t('format.read')
  received: '',
};

function pad(n: number): string {
  return n.toString().padStart(2, '0');
}

export function formatTime(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** What a message says, in one line: text, `* action`, [sticker], [file], or (unsent). */
function content(m: MessageInfo, who: string): string {
  if (m.unsent) return t('format.unsent');
  if (m.call) return callLine(m.call, m.dir, who);
  if (m.sticker) return t('format.sticker', { pack: shown(m.sticker.pack), id: shown(m.sticker.id) });
  if (m.file?.voice)
    return t('format.voice', {
      time: minutes(Math.round(m.file.voice.ms / 1000)),
      name: shown(m.file.name),
      size: size(m.file.size),
    });
  if (m.file)
    return t('format.file', { name: shown(m.file.name), size: size(m.file.size), mime: shown(m.file.mime) });
  if (m.action) return `* ${who} ${shownText(m.text)}`;
  return shownText(m.text);
}

function minutes(secs: number): string {
  return `${Math.floor(secs / 60)}:${pad(secs % 60)}`;
}

/** A call-log entry (decision 0046): "missed call from Bob (未接來電)", "[voice call 3:12]". */
export function callLine(call: NonNullable<MessageInfo['call']>, dir: 'in' | 'out', who: string): string {
  const kind = t(call.video ? 'call.video' : 'call.voice');
  switch (call.outcome) {
    case 'answered':
      return t('call.answered', { kind, time: minutes(call.secs ?? 0) });
    case 'missed':
      return dir === 'in' ? t('call.missedIn', { kind, who }) : t('call.missedOut', { kind });
    case 'declined':
      return t('call.declined', { kind });
    case 'busy':
      return t('call.busy', { kind });
    default:
      return t('call.failed', { kind });
  }
}

/** A group call's log entry (decision 0053): "[group voice call 12:34 群組通話]". */
function groupCallLine(call: NonNullable<MessageInfo['call']>): string {
  const kind = t(call.video ? 'format.groupVideoCall' : 'format.groupVoiceCall');
  return call.outcome === 'answered'
    ? t('format.groupCall', { kind, time: minutes(call.secs ?? 0) })
    : t('format.groupCallMissed', { kind });
}

function statusMark(status: MessageInfo['status']): string {
  if (status === 'failed') return t('format.failed');
  if (status === 'read') return t('format.read');
  return MARK[status];
}

/** One line per message; the id's first 12 hex digits name it for `reply` and `unsend`. */
export function formatMessage(m: MessageInfo, me = t('format.me')): string {
  if (m.group !== undefined) return formatGroupMessage(m, me);
  const who = shown(m.dir === 'out' ? me : m.alias);
  const mark = m.dir === 'out' && !m.unsent ? ` ${statusMark(m.status)}` : '';
  const reply = m.replyTo ? ` ↪${m.replyTo.slice(0, 8)}` : '';
  return `[${formatTime(m.ts)}] ${who}:${reply} ${content(m, who)}${mark}  #${m.id.slice(0, 12)}`;
}

/** `[time] group/author: text`, `* author waves`, with ✓✓ N and 已讀 N on my own messages. */
function formatGroupMessage(m: MessageInfo, me: string): string {
  const who = shown(m.dir === 'out' ? me : (m.from ?? '?'));
  let mark = '';
  if (m.dir === 'out')
    mark = m.readCount
      ? ` ${t('format.readCount', { count: m.readCount })}`
      : m.deliveredCount
        ? ` ✓✓ ${m.deliveredCount}`
        : ` ${MARK.pending}`;
  const late = m.late
    ? ` ${t('format.late', {
        count: m.confirmations ?? 0,
        needed: m.confirmationsNeeded ?? '?',
        group: m.group!,
        id: m.id.slice(0, 12),
      })}`
    : m.confirmed
      ? ` ${t('format.lateConfirmed', { count: m.confirmations ?? 0 })}`
      : m.history
        ? ` ${t('format.earlier')}`
        : '';
  const body =
    m.kind === 'action'
      ? `* ${who} ${shownText(m.text)}`
      : m.kind === 'ping'
        ? t('format.pinged', { who })
        : m.call
          ? groupCallLine(m.call)
          : `${who}: ${content(m, who)}`;
  // A file's id, for `parus download GROUP ID` (as the 1:1 lines end with theirs).
  const id = m.file && !m.unsent ? `  #${m.id.slice(0, 12)}` : '';
  return `[${formatTime(m.ts)}] ${shown(m.alias)} | ${body}${mark}${late}${id}`;
}

export function formatContact(c: ContactInfo): string {
  const state = t(
    c.state === 'validated'
      ? 'contact.validated'
      : c.state === 'compromised'
        ? 'contact.compromised'
        : 'contact.unvalidated',
  );
  const status = c.status === 'pending' ? ` ${t('contact.pending')}` : '';
  const warn = c.keyChanged ? `  ${t('contact.keyChanged')}` : '';
  // The name they gave themselves (decision 0056), beside my alias for them when it differs.
  const named = c.profileName !== undefined && c.profileName !== c.alias ? ` (${shown(c.profileName)})` : '';
  return `${shown(c.alias)}${named}  ${state}${status}${warn}`;
}
