/**
 * What public rooms and private-chat requests keep in the store (docs/decisions/0013), with
 * strict codecs (a damaged record is a StorageError). Collections: `grooms` (one RoomRecord per
 * room this device holds a door of or is joining by link), `gcreq` (chat requests received).
 */
import {
  DecodeError,
  StorageError,
  asBool,
  asBytes,
  asMap,
  asText,
  asUint,
  decodeCbor,
  encodeCbor,
  optional,
  type CborMap,
} from '@parus/core';
import { ROOM_REFUSALS, type RoomRefusal } from './room-refusal.ts';

export const RC = { rooms: 'grooms', requests: 'gcreq' } as const;

/** At most this many chat requests wait; a member has at most one waiting per group. */
export const MAX_CHAT_REQUESTS = 64;
export const MAX_CHAT_NOTE_CHARS = 280;
export const MAX_ROOM_NICK_CHARS = 64;

export interface RoomRecord {
  g: Uint8Array;
  /** My door: its card's id (an invite record of the account), the room secret, the room link. */
  door?: { id: Uint8Array; s: Uint8Array; link: string };
  /** While joining by link: the door keeper's member key (it must sign my invitation) and my nick. */
  join?: RoomJoinRecord;
}

export interface RoomJoinRecord {
  k: Uint8Array;
  nick?: string;
  /** The session my join request opened at the door (a contact id): only it may refuse. */
  c?: Uint8Array;
  /** The door refused the join (room-refusal.ts; decision 0017). */
  refused?: { why: RoomRefusal; at: number };
}

export interface ChatRequestRecord {
  id: string;
  g: Uint8Array;
  /** The member who asked (their member key). */
  m: Uint8Array;
  /** How the group showed them when the request came. */
  from: string;
  link: string;
  note?: string;
  at: number;
  expires: number;
  /** Shown by `takeChatRequests` (parus read) already. */
  shown: boolean;
}

function read<T>(bytes: Uint8Array, what: string, f: (m: CborMap) => T): T {
  try {
    return f(asMap(decodeCbor(bytes), what));
  } catch (cause) {
    throw new StorageError(`stored ${what} is damaged`, { cause });
  }
}

export function encodeRoomRecord(r: RoomRecord | ChatRequestRecord): Uint8Array {
  const m = { ...r } as Record<string, unknown>;
  for (const k of Object.keys(m)) if (m[k] === undefined) delete m[k];
  if ('join' in r && r.join) {
    const join = { ...r.join } as Record<string, unknown>;
    for (const k of Object.keys(join)) if (join[k] === undefined) delete join[k];
    m.join = join;
  }
  return encodeCbor(m as unknown as CborMap);
}

export function decodeRoomRecord(bytes: Uint8Array): RoomRecord {
  return read(bytes, 'room', (m) => {
    const r: RoomRecord = { g: asBytes(m.g, 'group', { len: 16 }) };
    const door = optional(m.door, (v) => {
      const d = asMap(v, 'door');
      return {
        id: asBytes(d.id, 'door id', { len: 32 }),
        s: asBytes(d.s, 'secret', { len: 32 }),
        link: asText(d.link, 'link', 16 * 1024),
      };
    });
    if (door) r.door = door;
    const join = optional(m.join, (v) => {
      const j = asMap(v, 'join');
      const out: RoomJoinRecord = { k: asBytes(j.k, 'keeper', { len: 32 }) };
      const nick = optional(j.nick, (x) => asText(x, 'nick', MAX_ROOM_NICK_CHARS));
      if (nick !== undefined) out.nick = nick;
      const c = optional(j.c, (x) => asBytes(x, 'door session', { len: 16 }));
      if (c) out.c = c;
      const refused = optional(j.refused, (x) => {
        const f = asMap(x, 'refusal');
        const why = ROOM_REFUSALS.find((w) => w === asText(f.why, 'refusal', 32));
        if (!why) throw new DecodeError('unknown room refusal');
        return { why, at: asUint(f.at, 'refused at') };
      });
      if (refused) out.refused = refused;
      return out;
    });
    if (join) r.join = join;
    return r;
  });
}

export function decodeChatRequest(bytes: Uint8Array): ChatRequestRecord {
  return read(bytes, 'chat request', (m) => {
    const r: ChatRequestRecord = {
      id: asText(m.id, 'id', 32),
      g: asBytes(m.g, 'group', { len: 16 }),
      m: asBytes(m.m, 'member', { len: 32 }),
      from: asText(m.from, 'from', 256),
      link: asText(m.link, 'link', 8192),
      at: asUint(m.at, 'at'),
      expires: asUint(m.expires, 'expires'),
      shown: asBool(m.shown, 'shown'),
    };
    const note = optional(m.note, (v) => asText(v, 'note', MAX_CHAT_NOTE_CHARS));
    if (note !== undefined) r.note = note;
    return r;
  });
}
