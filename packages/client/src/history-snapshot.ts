/**
 * 1:1 history in the account snapshot (docs/decisions/0041): which stored messages a backup or
 * a link carries, their strict codec, and the records a restored device writes from them.
 *
 * The user chooses: `none`, `all`, or the last N days (by the message's own time). Only messages
 * a user sees are carried: texts, replies, stickers and files that left or arrived. Never a
 * message taken back (收回: its tombstone stays behind), a deleted one (its record is gone), one
 * that never left (`pending`, `failed`), an envelope, an upload key or any session state.
 *
 * The carried messages form a closed DAG: a parent that is not carried (older than the cut, or
 * taken back) is dropped, so the restored device shows the messages in the same causal order and
 * never asks a contact for messages the user chose to leave behind.
 *
 *   history: [ { c: contact id (16), id (32), dir, kind, text, parents: [id], lamport, ts,
 *                received, status, replyTo?, action?, sticker?: {pack,id}, file?: FileBody } ]
 */
import {
  DecodeError,
  UsageError,
  asArray,
  asBool,
  asBytes,
  asMap,
  asText,
  asUint,
  decodeFileBody,
  decodeStickerBody,
  encodeCbor,
  encodeFileBody,
  toHex,
  type CborMap,
  type CborValue,
  type FileBody,
} from '@parus/core';
import { C, SHOWN_KINDS } from './account/account-context.ts';
import {
  decodeMessage,
  encodeRecord,
  type ContactRecord,
  type MessageRecord,
  type MessageStatus,
} from './records.ts';
import type { Store, StoreOp } from './store.ts';

/** Every message of every contact, none, or those of the last `days` days. */
export type HistoryChoice = 'all' | 'none' | { days: number };

/** The most messages a snapshot carries (a peer-made snapshot cannot make us allocate more). */
export const MAX_SNAPSHOT_MESSAGES = 200_000;
/** The most days a `--history DAYS` may name (ten years). */
export const MAX_HISTORY_DAYS = 3650;
/** What the history may take of the snapshot's bound; the newest messages are kept when it is full. */
export const HISTORY_BUDGET_BYTES = 56 * 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Statuses of messages that left or arrived: the only ones carried. */
const CARRIED_STATUSES: readonly MessageStatus[] = ['sent', 'delivered', 'read', 'received'];

export interface SnapshotMessage {
  /** The contact record's id (the snapshot contact's `id`). */
  contact: Uint8Array;
  id: Uint8Array;
  dir: 'in' | 'out';
  kind: string;
  text: string;
  parents: Uint8Array[];
  lamport: number;
  ts: number;
  received: number;
  status: MessageStatus;
  replyTo?: Uint8Array;
  action?: true;
  sticker?: { pack: string; id: string };
  file?: FileBody;
}

/** `all`, `none` or a number of days (1 to 3650), as the CLI's `--history` and the web form take it. */
export function parseHistoryChoice(text: string): HistoryChoice {
  const t = text.trim().toLowerCase();
  if (t === 'all' || t === 'none') return t;
  if (/^[0-9]{1,4}$/.test(t)) {
    const days = Number(t);
    if (days >= 1 && days <= MAX_HISTORY_DAYS) return { days };
  }
  throw new UsageError(`history is all, none or a number of days from 1 to ${MAX_HISTORY_DAYS}`);
}

function carried(m: MessageRecord, since: number): boolean {
  return (
    SHOWN_KINDS.has(m.kind) && m.unsent === undefined && CARRIED_STATUSES.includes(m.status) && m.ts >= since
  );
}

function toSnapshotMessage(m: MessageRecord): SnapshotMessage {
  const s: SnapshotMessage = {
    contact: m.contact,
    id: m.id,
    dir: m.dir,
    kind: m.kind,
    text: m.text,
    parents: m.parents,
    lamport: m.lamport,
    ts: m.ts,
    received: m.received,
    status: m.status,
  };
  if (m.replyTo) s.replyTo = m.replyTo;
  if (m.action) s.action = true;
  if (m.sticker) s.sticker = { pack: m.sticker.pack, id: m.sticker.id };
  if (m.file) s.file = m.file;
  return s;
}

function encodeMessage(s: SnapshotMessage): CborMap {
  const m: CborMap = {
    c: s.contact,
    id: s.id,
    dir: s.dir,
    kind: s.kind,
    text: s.text,
    parents: s.parents,
    lamport: s.lamport,
    ts: s.ts,
    received: s.received,
    status: s.status,
  };
  if (s.replyTo) m.replyTo = s.replyTo;
  if (s.action) m.action = true;
  if (s.sticker) m.sticker = { pack: s.sticker.pack, id: s.sticker.id };
  if (s.file) m.file = encodeFileBody(s.file);
  return m;
}

/**
 * The messages of `contacts` the choice carries, newest kept when the budget is reached
 * (`cut` says so), in (contact, causal position) order, parents closed over the carried set.
 */
export async function collectHistory(opts: {
  store: Store;
  contacts: readonly ContactRecord[];
  choice: HistoryChoice;
  now: number;
  budgetBytes?: number;
}): Promise<{ messages: SnapshotMessage[]; bytes: number; cut: boolean }> {
  if (opts.choice === 'none') return { messages: [], bytes: 0, cut: false };
  const since = opts.choice === 'all' ? 0 : opts.now - opts.choice.days * DAY_MS;
  const candidates: SnapshotMessage[] = [];
  for (const c of opts.contacts) {
    for (const e of await opts.store.list(C.messages(c.id))) {
      const m = decodeMessage(e.value);
      if (carried(m, since)) candidates.push(toSnapshotMessage(m));
    }
  }
  // Newest first until the budget or the count is reached.
  candidates.sort((a, b) => b.ts - a.ts || b.lamport - a.lamport);
  const budget = opts.budgetBytes ?? HISTORY_BUDGET_BYTES;
  const kept: SnapshotMessage[] = [];
  let bytes = 0;
  let cut = false;
  for (const m of candidates) {
    const size = encodeCbor(encodeMessage(m)).length;
    if (bytes + size > budget || kept.length >= MAX_SNAPSHOT_MESSAGES) {
      cut = true;
      break;
    }
    kept.push(m);
    bytes += size;
  }
  const ids = new Set(kept.map((m) => toHex(m.id)));
  for (const m of kept) m.parents = m.parents.filter((p) => ids.has(toHex(p)));
  kept.sort((a, b) => compareHex(toHex(a.contact), toHex(b.contact)) || a.lamport - b.lamport || a.ts - b.ts);
  return { messages: kept, bytes, cut };
}

function compareHex(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function encodeHistory(messages: readonly SnapshotMessage[]): CborValue[] {
  return messages.map(encodeMessage);
}

const KINDS = [...SHOWN_KINDS];
const MESSAGE_FIELDS = [
  'c',
  'id',
  'dir',
  'kind',
  'text',
  'parents',
  'lamport',
  'ts',
  'received',
  'status',
  'replyTo',
  'action',
  'sticker',
  'file',
];

/** Strict: unknown fields, kinds or statuses, a contact the snapshot does not name → DecodeError. */
export function decodeHistory(value: CborValue, contacts: ReadonlySet<string>): SnapshotMessage[] {
  return asArray(value, 'snapshot history', MAX_SNAPSHOT_MESSAGES).map((v) => {
    const m = asMap(v, 'snapshot message');
    for (const k of Object.keys(m))
      if (!MESSAGE_FIELDS.includes(k)) throw new DecodeError('snapshot message has unknown fields');
    const contact = asBytes(m.c, 'message contact', { len: 16 });
    if (!contacts.has(toHex(contact))) throw new DecodeError('snapshot message of an unknown contact');
    const dir = asText(m.dir, 'message dir', 3);
    if (dir !== 'in' && dir !== 'out') throw new DecodeError('unknown message direction');
    const kind = asText(m.kind, 'message kind', 32);
    if (!KINDS.includes(kind)) throw new DecodeError('unknown message kind');
    const status = asText(m.status, 'message status', 16);
    const known = CARRIED_STATUSES.find((s) => s === status);
    if (!known) throw new DecodeError('snapshot message status not carried');
    const s: SnapshotMessage = {
      contact,
      id: asBytes(m.id, 'message id', { len: 32 }),
      dir,
      kind,
      text: asText(m.text, 'message text', 65536),
      parents: asArray(m.parents, 'message parents', 64).map((p) => asBytes(p, 'parent', { len: 32 })),
      lamport: asUint(m.lamport, 'lamport'),
      ts: asUint(m.ts, 'ts'),
      received: asUint(m.received, 'received'),
      status: known,
    };
    if (m.replyTo !== undefined) s.replyTo = asBytes(m.replyTo, 'replyTo', { len: 32 });
    if (m.action !== undefined && asBool(m.action, 'action')) s.action = true;
    if (m.sticker !== undefined) {
      const { pack, id } = decodeStickerBody(m.sticker);
      s.sticker = { pack, id };
    }
    if (m.file !== undefined) s.file = decodeFileBody(m.file);
    return s;
  });
}

/**
 * The store writes that put a snapshot's history in place: one message record each, keyed by id
 * (a message carried twice is written once), shown (no notification for old news), without an
 * envelope (nothing to send again), parents closed over what is carried.
 */
export function restoreHistoryOps(messages: readonly SnapshotMessage[]): StoreOp[] {
  const ids = new Set(messages.map((m) => toHex(m.id)));
  const ops = new Map<string, StoreOp>();
  for (const s of messages) {
    const r: MessageRecord = {
      id: s.id,
      contact: s.contact,
      dir: s.dir,
      kind: s.kind,
      text: s.text,
      parents: s.parents.filter((p) => ids.has(toHex(p))),
      lamport: s.lamport,
      ts: s.ts,
      received: s.received,
      status: s.status,
      shown: true,
      envelope: new Uint8Array(0),
    };
    if (s.replyTo) r.replyTo = s.replyTo;
    if (s.action) r.action = true;
    if (s.sticker) r.sticker = s.sticker;
    if (s.file) r.file = s.file;
    const key = `${toHex(s.contact)}/${toHex(s.id)}`;
    ops.set(key, {
      type: 'put',
      collection: C.messages(s.contact),
      key: toHex(s.id),
      value: encodeRecord(r),
    });
  }
  return [...ops.values()];
}
