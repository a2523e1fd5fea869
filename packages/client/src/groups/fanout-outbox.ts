/**
 * The outbox side of group delivery by relay fan-out (docs/decisions/0012 "Delivery"): one
 * record per group message, whatever the group's size, instead of one outbox entry per member.
 *
 * - A *roster* is the list of members (the contacts whose sessions reach them) a message went
 *   to, stored once and shared by every message sent while membership stays the same; its id
 *   is a hash of the list.
 * - A *fan-out message* holds the frame uploaded once per relay, the payload a 1:1 resend
 *   carries, the roster, and two bitmaps over the roster: who still waits for it (no receipt
 *   yet, not handed to the 1:1 path) and whom an upload reached. A member leaves the waiting set
 *   on its receipt, or when it gets its own 1:1 outbox entry (the upload missed it, or its
 *   receipt did not come within the resend backoff); the record goes when nobody waits.
 */
import {
  StorageError,
  asArray,
  asBytes,
  asMap,
  asUint,
  concatBytes,
  decodeCbor,
  encodeCbor,
  hash,
  optional,
  toHex,
  type CborMap,
} from '@parus/core';

/** Collections: fan-out messages by message id (hex), rosters by roster id (hex). */
export const FANOUT_COLLECTIONS = { messages: 'gfan', rosters: 'gros' } as const;

/** Members per roster: a group's links are bounded by twice its member limit (group-receiving.ts). */
export const MAX_ROSTER = 4096;

export interface FanoutRoster {
  /** Contact (or group peer) ids, 16 bytes each. */
  c: Uint8Array[];
}

export interface FanoutMessage {
  /** The group. */
  g: Uint8Array;
  /** What is uploaded once per relay (group-wire.ts GroupFanoutFrame). */
  frame: Uint8Array;
  /** The CBOR group payload a 1:1 resend carries. */
  p: Uint8Array;
  /** Outbox order, shared with the account's outbox entries. */
  seq: number;
  /** The roster's id (16 bytes). */
  ro: Uint8Array;
  /** Bitmap over the roster: members still waiting. Absent: all of them. */
  w?: Uint8Array;
  /** Bitmap over the roster: members an upload reached. Absent: none. */
  u?: Uint8Array;
  /** When members an upload reached but whose receipt has not come go to the 1:1 path (0: none yet). */
  at: number;
}

/**
 * A record of collection `gfan` as written before rosters (one outbox entry per member named
 * it): only `g`, `frame` and `p`. The account converts those entries when it opens.
 */
export type LegacyFanoutMessage = Pick<FanoutMessage, 'g' | 'frame' | 'p'>;

function damaged(what: string, cause: unknown): never {
  throw new StorageError(`stored ${what} is damaged`, { cause });
}

/** Decodes a fan-out message, or (without `ro`) one written before rosters. */
export function decodeFanoutMessage(bytes: Uint8Array): FanoutMessage | LegacyFanoutMessage {
  try {
    const m = asMap(decodeCbor(bytes), 'group fan-out message');
    const base = {
      g: asBytes(m.g, 'group', { len: 16 }),
      frame: asBytes(m.frame, 'frame', { max: 1 << 20 }),
      p: asBytes(m.p, 'payload', { max: 1 << 20 }),
    };
    if (m.ro === undefined) return base;
    const bits = { max: MAX_ROSTER / 8 };
    const r: FanoutMessage = {
      ...base,
      seq: asUint(m.seq, 'seq'),
      ro: asBytes(m.ro, 'roster', { len: 16 }),
      at: asUint(m.at, 'at'),
    };
    const w = optional(m.w, (v) => asBytes(v, 'waiting', bits));
    if (w) r.w = w;
    const u = optional(m.u, (v) => asBytes(v, 'uploaded', bits));
    if (u) r.u = u;
    return r;
  } catch (cause) {
    return damaged('group fan-out message', cause);
  }
}

/** Whether the record has a roster (else it was written before rosters). */
export function hasRoster(r: FanoutMessage | LegacyFanoutMessage): r is FanoutMessage {
  return 'ro' in r;
}

export function encodeFanoutMessage(r: FanoutMessage): Uint8Array {
  return encodeCbor(r as unknown as CborMap);
}

export function decodeFanoutRoster(bytes: Uint8Array): FanoutRoster {
  try {
    const m = asMap(decodeCbor(bytes), 'group fan-out roster');
    return { c: asArray(m.c, 'members', MAX_ROSTER).map((x) => asBytes(x, 'contact', { len: 16 })) };
  } catch (cause) {
    return damaged('group fan-out roster', cause);
  }
}

export function encodeFanoutRoster(r: FanoutRoster): Uint8Array {
  return encodeCbor({ c: r.c });
}

/** A roster's id: BLAKE2b-128 of its contact ids in order (the same members give the same id). */
export function rosterId(contacts: readonly Uint8Array[]): Uint8Array {
  return hash(concatBytes(...contacts), 16);
}

/** A roster as the flush uses it: contact ids (hex) and each one's index. */
export interface RosterView {
  id: string;
  contacts: string[];
  index: Map<string, number>;
}

export function rosterView(id: string, r: FanoutRoster): RosterView {
  const contacts = r.c.map((c) => toHex(c));
  return { id, contacts, index: new Map(contacts.map((c, i) => [c, i])) };
}

// ---- Bitmaps over a roster (bit i of byte i >> 3, least significant first) -------------------------

export function hasBit(bits: Uint8Array | undefined, i: number, absent: boolean): boolean {
  if (!bits) return absent;
  return ((bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
}

/** Whether member `i` still waits for the message. */
export function isWaiting(r: FanoutMessage, i: number): boolean {
  return hasBit(r.w, i, true);
}

/** Whether an upload reached member `i`. */
export function isUploaded(r: FanoutMessage, i: number): boolean {
  return hasBit(r.u, i, false);
}

function bitmap(size: number, fill: boolean): Uint8Array {
  const b = new Uint8Array(Math.ceil(size / 8));
  if (fill) {
    b.fill(0xff);
    if (size % 8) b[b.length - 1] = (1 << size % 8) - 1;
  }
  return b;
}

/**
 * The record with members `clear` out of the waiting set and `uploaded` added to the uploaded
 * set (copies: the record given is not changed).
 */
export function updateFanout(
  r: FanoutMessage,
  size: number,
  change: { clear?: Iterable<number>; uploaded?: Iterable<number> },
): FanoutMessage {
  const next = { ...r };
  if (change.clear) {
    const w = r.w ? r.w.slice() : bitmap(size, true);
    for (const i of change.clear) w[i >> 3] = (w[i >> 3] ?? 0) & ~(1 << (i & 7));
    next.w = w;
  }
  if (change.uploaded) {
    const u = r.u ? r.u.slice() : bitmap(size, false);
    for (const i of change.uploaded) u[i >> 3] = (u[i >> 3] ?? 0) | (1 << (i & 7));
    next.u = u;
  }
  return next;
}

/** Whether anyone still waits. */
export function anyWaiting(r: FanoutMessage, size: number): boolean {
  if (!r.w) return size > 0;
  return r.w.some((b) => b !== 0);
}

/** Members (roster indexes) that wait and were reached by an upload, or (`uploaded` false) were not. */
export function waitingMembers(r: FanoutMessage, size: number, uploaded: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < size; i++) if (isWaiting(r, i) && isUploaded(r, i) === uploaded) out.push(i);
  return out;
}
