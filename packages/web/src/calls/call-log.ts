/**
 * One line for a call-log entry (decision 0046), in the chat, the chat list and notifications:
 * 通話時間 3:12, 未接來電, 對方未接聽, ...
 */
import type { MessageInfo } from '@parus/client';
import type { Translate } from '../i18n.ts';

/** m:ss, or h:mm:ss from an hour on. */
export function callDuration(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function callLogText(call: NonNullable<MessageInfo['call']>, dir: 'in' | 'out', t: Translate): string {
  switch (call.outcome) {
    case 'answered':
      return t(call.video ? 'call.log.video' : 'call.log.voice', { time: callDuration(call.secs ?? 0) });
    case 'missed':
      return t(dir === 'in' ? 'call.log.missed' : 'call.log.noAnswer');
    case 'declined':
      return t('call.log.declined');
    case 'busy':
      return t('call.log.busy');
    default:
      return t('call.log.failed');
  }
}

/** A group call's log entry (decision 0053): 群組通話 12:34, or a call nobody joined. */
export function groupCallLogText(call: NonNullable<MessageInfo['call']>, t: Translate): string {
  if (call.outcome !== 'answered') return t(call.video ? 'gcall.log.missedVideo' : 'gcall.log.missed');
  return t(call.video ? 'gcall.log.video' : 'gcall.log.voice', { time: callDuration(call.secs ?? 0) });
}
