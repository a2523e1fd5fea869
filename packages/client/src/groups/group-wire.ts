/**
 * What group members say to each other inside their 1:1 sessions (envelope kind `group`):
 * one CBOR map per payload, `t` naming it. Decoded strictly; every list is bounded.
 * docs/decisions/0012-group-introductions-and-messages.md describes the flow.
 *
 *   bind   {t, g, m, sig}          m: my member key; sig: Ed25519 by m over
 *                                  "parus-group-bind-v1" || g || conversation id — ties this
 *                                  session to that member, so a forwarder cannot pose as them
 *   invite {t, g, name, m, sig}    an invitation (with the inviter's bind); events follow
 *   ev     {t, g, ev: [bytes]}     signed state events (group-event.ts), ≤ 64 per payload
 *   skd    {t, g, d}               my sender key distribution (sender-key.ts)
 *   msg    {t, g, id, c}           a group message: envelope id and sender-key ciphertext
 *   rcpt   {t, g, s, ids}          delivery ('d') or read ('r') receipts, ≤ 256 ids
 *   intro  {t, g, to, from, link}  `from` made a one-time card for `to`; the member between
 *                                  them forwards it (DESIGN.md "Introductions")
 *   chatreq {t, g, link, note?}    a private chat request (seed 001): a fresh one-time card the
 *                                  addressee may answer to become a contact (decision 0013)
 *   hist   {t, g, env: [bytes]}    earlier messages for a newcomer: the authors' signed
 *                                  envelopes, ≤ 64 and 96 KiB per payload (history-share.ts)
 *   lc     {t, g, id, by, sig}     `by` confirms the late message `id`; sig: Ed25519 by `by`
 *                                  over "parus-group-confirm-v1" || g || id (late-confirm.ts)
 *   owe    {t, g, env: [bytes]}    my own messages sent while we had no session: my signed
 *                                  envelopes, bounded as `hist` (owed-messages.ts)
 *
 * A group message sent by relay fan-out (docs/decisions/0012) is not inside a 1:1 session: the
 * relay copies one upload into each member's pairwise queue. Its body there is
 *
 *   0x80 || CBOR {g, m, id, c}       m: the sender's member key; c: the sender-key ciphertext
 *
 * The tag byte is never a ratchet message's first byte (its version, 1), so the receiver tells
 * the two apart before decrypting. Authenticity comes from what it carries, not from the
 * framing: `c` is signed with the sender's chain key and sealed with the group id as associated
 * data (so it opens in no other group), its chain is registered to one member (learnt over
 * that member's own 1:1 session), and it is only read from that member's pairwise queue, which
 * only holders of the queue's sender key can fill. `m` must name that same member.
 */
import {
  DecodeError,
  GROUP_ID_BYTES,
  MAX_GROUP_EVENT_BYTES,
  MAX_GROUP_NAME_CHARS,
  MAX_SENDER_KEY_DISTRIBUTION_BYTES,
  SENDER_MAX_MESSAGE_BYTES,
  asArray,
  asBytes,
  asMap,
  asText,
  concatBytes,
  decodeCbor,
  encodeCbor,
  utf8,
  type CborMap,
  type CborValue,
  nameFault,
} from '@parus/core';
import { HISTORY_CHUNK_BYTES, MAX_HISTORY_ENVELOPE_BYTES, MAX_HISTORY_PER_PAYLOAD } from './history-share.ts';

export const MAX_EVENTS_PER_PAYLOAD = 64;
export const MAX_RECEIPT_IDS = 256;
const MAX_LINK_CHARS = 8192;
const MAX_CHAT_NOTE_CHARS = 280;
const KEY = { len: 32 } as const;

export type GroupPayload =
  | { t: 'bind'; g: Uint8Array; m: Uint8Array; sig: Uint8Array }
  | { t: 'invite'; g: Uint8Array; name: string; m: Uint8Array; sig: Uint8Array }
  | { t: 'ev'; g: Uint8Array; ev: Uint8Array[] }
  | { t: 'skd'; g: Uint8Array; d: Uint8Array }
  | { t: 'msg'; g: Uint8Array; id: Uint8Array; c: Uint8Array }
  | { t: 'rcpt'; g: Uint8Array; s: 'd' | 'r'; ids: Uint8Array[] }
  | { t: 'intro'; g: Uint8Array; to: Uint8Array; from: Uint8Array; link: string }
  | { t: 'chatreq'; g: Uint8Array; link: string; note?: string }
  | { t: 'hist'; g: Uint8Array; env: Uint8Array[] }
  | { t: 'lc'; g: Uint8Array; id: Uint8Array; by: Uint8Array; sig: Uint8Array }
  | { t: 'owe'; g: Uint8Array; env: Uint8Array[] };

const BIND_CONTEXT = utf8('parus-group-bind-v1');

/** What a bind signature covers. */
export function bindMessage(group: Uint8Array, conv: Uint8Array): Uint8Array {
  return concatBytes(BIND_CONTEXT, group, conv);
}

/** A group's name in an invitation follows the one name rule (core display-text.ts), as its events do. */
function groupName(name: string): string {
  const fault = nameFault(name, MAX_GROUP_NAME_CHARS);
  if (fault !== undefined) throw new DecodeError(`group name ${fault}`);
  return name;
}

function keys(m: CborMap, expected: readonly string[]): void {
  const got = Object.keys(m);
  if (got.length !== expected.length || !expected.every((k) => got.includes(k)))
    throw new DecodeError('group payload has unexpected fields');
}

export function decodeGroupPayload(body: CborValue): GroupPayload {
  const m = asMap(body, 'group payload');
  const t = asText(m.t, 'group payload type', 8);
  const g = asBytes(m.g, 'group id', { len: GROUP_ID_BYTES });
  switch (t) {
    case 'bind':
      keys(m, ['t', 'g', 'm', 'sig']);
      return { t, g, m: asBytes(m.m, 'member', KEY), sig: asBytes(m.sig, 'sig', { len: 64 }) };
    case 'invite':
      keys(m, ['t', 'g', 'name', 'm', 'sig']);
      return {
        t,
        g,
        name: groupName(asText(m.name, 'group name', MAX_GROUP_NAME_CHARS * 2)),
        m: asBytes(m.m, 'member', KEY),
        sig: asBytes(m.sig, 'sig', { len: 64 }),
      };
    case 'ev':
      keys(m, ['t', 'g', 'ev']);
      return {
        t,
        g,
        ev: asArray(m.ev, 'events', MAX_EVENTS_PER_PAYLOAD).map((e) =>
          asBytes(e, 'event', { max: MAX_GROUP_EVENT_BYTES }),
        ),
      };
    case 'skd':
      keys(m, ['t', 'g', 'd']);
      return { t, g, d: asBytes(m.d, 'distribution', { max: MAX_SENDER_KEY_DISTRIBUTION_BYTES }) };
    case 'msg':
      keys(m, ['t', 'g', 'id', 'c']);
      return {
        t,
        g,
        id: asBytes(m.id, 'message id', KEY),
        c: asBytes(m.c, 'ciphertext', { max: SENDER_MAX_MESSAGE_BYTES }),
      };
    case 'rcpt': {
      keys(m, ['t', 'g', 's', 'ids']);
      const s = asText(m.s, 'receipt type', 1);
      if (s !== 'd' && s !== 'r') throw new DecodeError('unknown receipt type');
      return {
        t,
        g,
        s,
        ids: asArray(m.ids, 'ids', MAX_RECEIPT_IDS).map((id) => asBytes(id, 'id', KEY)),
      };
    }
    case 'intro':
      keys(m, ['t', 'g', 'to', 'from', 'link']);
      return {
        t,
        g,
        to: asBytes(m.to, 'to', KEY),
        from: asBytes(m.from, 'from', KEY),
        link: asText(m.link, 'link', MAX_LINK_CHARS),
      };
    case 'chatreq': {
      if ('note' in m) keys(m, ['t', 'g', 'link', 'note']);
      else keys(m, ['t', 'g', 'link']);
      const p: Extract<GroupPayload, { t: 'chatreq' }> = {
        t,
        g,
        link: asText(m.link, 'link', MAX_LINK_CHARS),
      };
      if ('note' in m) p.note = asText(m.note, 'note', MAX_CHAT_NOTE_CHARS);
      return p;
    }
    case 'hist':
    case 'owe': {
      keys(m, ['t', 'g', 'env']);
      const env = asArray(m.env, 'shared messages', MAX_HISTORY_PER_PAYLOAD).map((e) =>
        asBytes(e, 'shared message', { max: MAX_HISTORY_ENVELOPE_BYTES }),
      );
      if (env.reduce((n, e) => n + e.length, 0) > HISTORY_CHUNK_BYTES)
        throw new DecodeError('history payload too large');
      return { t, g, env };
    }
    case 'lc':
      keys(m, ['t', 'g', 'id', 'by', 'sig']);
      return {
        t,
        g,
        id: asBytes(m.id, 'message id', KEY),
        by: asBytes(m.by, 'confirmer', KEY),
        sig: asBytes(m.sig, 'sig', { len: 64 }),
      };
    default:
      throw new DecodeError('unknown group payload type');
  }
}

/** First byte of a fan-out delivered group message (a ratchet message starts with 1). */
export const GROUP_FANOUT_TAG = 0x80;

export interface GroupFanoutFrame {
  g: Uint8Array;
  m: Uint8Array;
  id: Uint8Array;
  c: Uint8Array;
}

export function isGroupFanoutFrame(body: Uint8Array): boolean {
  return body.length > 0 && body[0] === GROUP_FANOUT_TAG;
}

export function encodeGroupFanoutFrame(f: GroupFanoutFrame): Uint8Array {
  return concatBytes(Uint8Array.of(GROUP_FANOUT_TAG), encodeCbor({ g: f.g, m: f.m, id: f.id, c: f.c }));
}

/** DecodeError unless `body` is exactly a tagged {g, m, id, c}. */
export function decodeGroupFanoutFrame(body: Uint8Array): GroupFanoutFrame {
  if (!isGroupFanoutFrame(body)) throw new DecodeError('not a group fan-out frame');
  if (body.length > SENDER_MAX_MESSAGE_BYTES + 256) throw new DecodeError('group fan-out frame too large');
  const m = asMap(decodeCbor(body.subarray(1)), 'group fan-out frame');
  keys(m, ['g', 'm', 'id', 'c']);
  return {
    g: asBytes(m.g, 'group id', { len: GROUP_ID_BYTES }),
    m: asBytes(m.m, 'member', KEY),
    id: asBytes(m.id, 'message id', KEY),
    c: asBytes(m.c, 'ciphertext', { max: SENDER_MAX_MESSAGE_BYTES }),
  };
}

export function encodeGroupPayload(p: GroupPayload): CborMap {
  return { ...p } as unknown as CborMap;
}
