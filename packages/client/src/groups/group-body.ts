/**
 * What a group message says, on the wire (inside the author's signed envelope) and in its
 * record (docs/decisions/0044). The envelope's kind and body are those of a 1:1 message
 * (core message-body.ts), so that a group gets the same stickers, files, 收回 and reactions:
 *
 *   text      {t: 'text' | 'action' | 'ping', text, replyTo?}   (the group form since 0012)
 *   sticker   StickerBody {pack, id, replyTo?}
 *   file      FileBody, with replyTo beside it (one blob upload; the keys are in the message)
 *   unsend    UnsendBody {target}                  only the target's author may send it
 *   reaction  ReactionBody {target, emoji}         one per member and message; newest wins
 *   call-log  CallLogBody {call, video, outcome, secs?}   a group call ended (decision 0053)
 *
 * Decoding is strict per kind (DecodeError); a kind a group does not carry is a ProtocolError.
 */
import {
  DecodeError,
  ProtocolError,
  UsageError,
  asBytes,
  asMap,
  asText,
  decodeCallLogBody,
  decodeFileBody,
  decodeReactionBody,
  decodeStickerBody,
  decodeUnsendBody,
  encodeCallLogBody,
  encodeFileBody,
  encodeReactionBody,
  encodeStickerBody,
  encodeUnsendBody,
  type CborMap,
  type CborValue,
  type MessageKind,
} from '@parus/core';
import { MAX_GROUP_TEXT, type GroupBody, type GroupMessageKind } from './group-records.ts';

export type { GroupBody } from './group-records.ts';

/** Kinds that show as a message; unsends and reactions change another one. */
export const SHOWN_GROUP_KINDS: ReadonlySet<GroupMessageKind> = new Set([
  'text',
  'action',
  'ping',
  'sticker',
  'file',
  'call-log',
]);

function only(m: CborMap, allowed: readonly string[]): void {
  for (const k of Object.keys(m))
    if (!allowed.includes(k)) throw new DecodeError('group message body has unknown fields');
}

const reply = (v: CborValue | undefined): Uint8Array | undefined =>
  v === undefined ? undefined : asBytes(v, 'replyTo', { len: 32 });

/** The envelope kind and body of a group message; UsageError for one that cannot be sent. */
export function encodeGroupBody(b: GroupBody): { kind: MessageKind; body: CborMap } {
  const withReply = (m: CborMap): CborMap => (b.replyTo ? { ...m, replyTo: b.replyTo } : m);
  switch (b.kind) {
    case 'text':
    case 'action':
    case 'ping':
      if (typeof b.text !== 'string' || (b.text.length === 0 && b.kind !== 'ping'))
        throw new UsageError('message is empty');
      if (b.text.length > MAX_GROUP_TEXT)
        throw new UsageError(`message longer than ${MAX_GROUP_TEXT} characters`);
      return { kind: 'text', body: withReply({ t: b.kind, text: b.text }) };
    case 'sticker':
      if (!b.sticker) throw new UsageError('a sticker message needs a sticker');
      return {
        kind: 'sticker',
        body: encodeStickerBody({ ...b.sticker, ...(b.replyTo ? { replyTo: b.replyTo } : {}) }),
      };
    case 'file':
      if (!b.file) throw new UsageError('a file message needs a file');
      return { kind: 'file', body: withReply(encodeFileBody(b.file)) };
    case 'unsend':
      return { kind: 'unsend', body: encodeUnsendBody({ target: b.target! }) };
    case 'reaction':
      return { kind: 'reaction', body: encodeReactionBody({ target: b.target!, emoji: b.emoji ?? '' }) };
    case 'call-log':
      if (!b.callLog) throw new UsageError('a call-log entry needs its call');
      return { kind: 'call-log', body: encodeCallLogBody(b.callLog) };
    default:
      throw new UsageError('unknown message kind');
  }
}

/** A group message's contents from its envelope's kind and body. */
export function decodeGroupBody(kind: string, body: CborValue): GroupBody {
  switch (kind) {
    case 'text': {
      const m = asMap(body, 'group message body');
      only(m, ['t', 'text', 'replyTo']);
      const t = asText(m.t, 'group message kind', 8);
      if (t !== 'text' && t !== 'action' && t !== 'ping')
        throw new ProtocolError('unknown group message kind');
      const b: GroupBody = { kind: t, text: asText(m.text, 'text', MAX_GROUP_TEXT) };
      if (b.text.length === 0 && t !== 'ping') throw new DecodeError('message is empty');
      const r = reply(m.replyTo);
      if (r) b.replyTo = r;
      return b;
    }
    case 'sticker': {
      const s = decodeStickerBody(body);
      const b: GroupBody = { kind: 'sticker', text: '', sticker: { pack: s.pack, id: s.id } };
      if (s.replyTo) b.replyTo = s.replyTo;
      return b;
    }
    case 'file': {
      const { replyTo, ...rest } = asMap(body, 'file body');
      const b: GroupBody = { kind: 'file', text: '', file: decodeFileBody(rest) };
      const r = reply(replyTo);
      if (r) b.replyTo = r;
      return b;
    }
    case 'unsend':
      return { kind: 'unsend', text: '', target: decodeUnsendBody(body).target };
    case 'reaction': {
      const r = decodeReactionBody(body);
      return { kind: 'reaction', text: '', target: r.target, emoji: r.emoji };
    }
    case 'call-log':
      // A group call's log entry (decision 0053), written by the last one to leave it.
      return { kind: 'call-log', text: '', callLog: decodeCallLogBody(body) };
    default:
      throw new ProtocolError('unsupported group message kind');
  }
}
