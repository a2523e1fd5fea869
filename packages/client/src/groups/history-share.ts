/**
 * History sharing (issue 4 item 3; docs/decisions/0014): when a group turns `shareHistory` on,
 * a newcomer receives the messages written since it was turned on, from exactly one member,
 * over their 1:1 session (forward secret), as the authors' original signed envelopes.
 *
 * - What may be shared: a message this device stored while its resolved state had sharing on,
 *   whose author's clock (`ts`) is not before the settings event that turned the current
 *   stretch of sharing on. Its envelope is kept (collection `ghs.<group>`, at most
 *   MAX_HISTORY_MESSAGES). Messages from before the switch are never kept nor accepted, so
 *   turning sharing on does not expose what was said while it was off (Matrix's history
 *   visibility is likewise decided per event, by the setting in force when it was sent).
 * - Who shares: the author of the invite event that brought the newcomer in, while a member;
 *   else the earliest-joined member. Every member computes the same one from the state events,
 *   so the newcomer gets one copy, not one per member. It shares with each member whose join
 *   came after the switch (state DAG Lamport clocks), once per membership (`ghd.<group>`).
 * - The bundle: `hist {g, env: [envelope]}` payloads of at most MAX_HISTORY_PER_PAYLOAD
 *   envelopes and HISTORY_CHUNK_BYTES bytes, the last MAX_HISTORY_MESSAGES kept messages.
 * - The newcomer checks every envelope (signature and id, group, kind and body, that its author
 *   is or was a member, that it is from after the switch) and refuses the whole payload on the
 *   first failure; duplicates (by id) are skipped; at most MAX_HISTORY_MESSAGES are taken in.
 *   They take their claimed place in the message DAG, marked as history: already shown, never
 *   announced as new by `parus read`, no receipts to their authors.
 */
import {
  ProtocolError,
  QuotaError,
  VerificationError,
  asBytes,
  asMap,
  asUint,
  compareBytes,
  decodeCbor,
  decodeEnvelope,
  encodeCbor,
  encodeEnvelope,
  equalBytes,
  toHex,
  type Envelope,
  type GroupEvent,
  type GroupState,
} from '@parus/core';
import type { Store, StoreOp } from '../store.ts';
import type { GroupMessageRecord } from './group-records.ts';
import { decodeGroupBody, type GroupBody } from './group-body.ts';

/** The most messages a bundle carries, a member keeps to share, and a newcomer takes in. */
export const MAX_HISTORY_MESSAGES = 1000;
/** Envelopes per `hist` payload, and their total bytes (a 1:1 envelope holds at most 128 KiB). */
export const MAX_HISTORY_PER_PAYLOAD = 64;
export const HISTORY_CHUNK_BYTES = 96 * 1024;
/** One shared envelope (a group text is at most 16 Ki UTF-16 units, 48 KiB of UTF-8). */
export const MAX_HISTORY_ENVELOPE_BYTES = 64 * 1024;

export const HC = {
  kept: (g: Uint8Array) => `ghs.${toHex(g)}`,
  shared: (g: Uint8Array) => `ghd.${toHex(g)}`,
} as const;

/** Where the current stretch of history sharing began in the state DAG, and by its author's clock. */
export interface SharingSince {
  lamport: number;
  ts: number;
}

/**
 * When sharing was last turned on, by the admitted settings (or create) events in Lamport
 * order; undefined while it is off. If concurrent settings events leave the Lamport walk off
 * while the resolution says on, the latest event saying on counts (later is the safe side).
 */
export function sharingSince(events: Iterable<GroupEvent>, st: GroupState): SharingSince | undefined {
  if (!st.settings.shareHistory) return undefined;
  const refused = new Set(st.rejected.map((r) => toHex(r.id)));
  const changes = [...events]
    .filter((e) => (e.type === 'settings' || e.type === 'create') && !refused.has(toHex(e.id)))
    .sort((a, b) => a.lamport - b.lamport || compareBytes(a.id, b.id));
  let since: SharingSince | undefined;
  let latestOn: SharingSince | undefined;
  let on = false;
  for (const e of changes) {
    const value =
      e.type === 'settings'
        ? e.content.settings.shareHistory
        : e.type === 'create' && e.content.settings.shareHistory;
    if (value) latestOn = { lamport: e.lamport, ts: e.ts };
    if (value && !on) since = { lamport: e.lamport, ts: e.ts };
    if (!value) since = undefined;
    on = value;
  }
  return since ?? latestOn ?? { lamport: Number.MAX_SAFE_INTEGER, ts: Number.MAX_SAFE_INTEGER };
}

/**
 * The one member who shares history with `newcomer`: the author of the admitted invite that
 * preceded their join, while a member; else the earliest-joined member (then by key).
 */
export function historySharer(
  events: Iterable<GroupEvent>,
  st: GroupState,
  newcomer: Uint8Array,
): Uint8Array | undefined {
  const member = st.members.get(toHex(newcomer));
  if (!member) return undefined;
  const refused = new Set(st.rejected.map((r) => toHex(r.id)));
  let invite: GroupEvent | undefined;
  for (const e of events) {
    if (e.type !== 'invite' || refused.has(toHex(e.id)) || e.lamport >= member.joinedAt) continue;
    if (!equalBytes(e.content.member, newcomer)) continue;
    if (
      !invite ||
      e.lamport > invite.lamport ||
      (e.lamport === invite.lamport && compareBytes(e.id, invite.id) > 0)
    )
      invite = e;
  }
  if (invite && st.members.has(toHex(invite.author)) && !equalBytes(invite.author, newcomer))
    return invite.author;
  const others = [...st.members.values()]
    .filter((m) => !equalBytes(m.key, newcomer))
    .sort((a, b) => a.joinedAt - b.joinedAt || compareBytes(a.key, b.key));
  return others[0]?.key;
}

/** Members I owe a bundle: joined after the switch, I am their sharer, not yet sent for this membership. */
export async function membersDue(
  store: Store,
  group: Uint8Array,
  events: GroupEvent[],
  st: GroupState,
  me: Uint8Array,
): Promise<Array<{ key: Uint8Array; mark: string }>> {
  const since = sharingSince(events, st);
  if (!since) return [];
  const done = new Set((await store.list(HC.shared(group))).map((e) => e.key));
  const due: Array<{ key: Uint8Array; mark: string }> = [];
  for (const m of st.members.values()) {
    if (equalBytes(m.key, me) || m.joinedAt <= since.lamport) continue;
    const mark = `${toHex(m.key)}.${m.joinedAt}`;
    if (done.has(mark)) continue;
    const sharer = historySharer(events, st, m.key);
    if (sharer && equalBytes(sharer, me)) due.push({ key: m.key, mark });
  }
  return due;
}

interface Kept {
  key: string;
  e: Uint8Array;
  ts: number;
  lamport: number;
}

function readKept(key: string, value: Uint8Array): Kept | undefined {
  try {
    const m = asMap(decodeCbor(value), 'kept envelope');
    return {
      key,
      e: asBytes(m.e, 'envelope', { max: MAX_HISTORY_ENVELOPE_BYTES }),
      ts: asUint(m.ts, 'ts'),
      lamport: asUint(m.l, 'lamport'),
    };
  } catch {
    return undefined; // damaged: never shared
  }
}

function byPlace(a: Kept, b: Kept): number {
  return a.lamport - b.lamport || a.ts - b.ts || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/**
 * Keeps a message's envelope to share later, when sharing is on and the message is from after
 * the switch; drops the oldest beyond MAX_HISTORY_MESSAGES. No operations otherwise.
 */
export async function keepForHistory(
  store: Store,
  group: Uint8Array,
  events: Iterable<GroupEvent>,
  st: GroupState,
  env: Envelope,
  /** How many are kept now (the caller counts, so that each message need not list them). */
  count: number,
): Promise<StoreOp[]> {
  const since = sharingSince(events, st);
  if (!since || env.ts < since.ts) return [];
  const bytes = encodeEnvelope(env);
  if (bytes.length > MAX_HISTORY_ENVELOPE_BYTES) return [];
  const col = HC.kept(group);
  const ops: StoreOp[] = [
    {
      type: 'put',
      collection: col,
      key: toHex(env.id),
      value: encodeCbor({ e: bytes, ts: env.ts, l: env.lamport }),
    },
  ];
  if (count >= MAX_HISTORY_MESSAGES) {
    const entries = await store.list(col);
    const valid: Kept[] = [];
    for (const x of entries) {
      const k = readKept(x.key, x.value);
      if (k) valid.push(k);
      else ops.push({ type: 'del', collection: col, key: x.key });
    }
    valid.sort(byPlace);
    for (const old of valid.slice(0, Math.max(0, valid.length + 1 - MAX_HISTORY_MESSAGES)))
      ops.push({ type: 'del', collection: col, key: old.key });
  }
  return ops;
}

/** The bundle for a newcomer: the last kept messages from after the switch, in chunks. */
export async function historyChunks(
  store: Store,
  group: Uint8Array,
  since: SharingSince,
): Promise<Uint8Array[][]> {
  const kept = (await store.list(HC.kept(group)))
    .map((x) => readKept(x.key, x.value))
    .filter((k): k is Kept => k !== undefined && k.ts >= since.ts)
    .sort(byPlace)
    .slice(-MAX_HISTORY_MESSAGES);
  return envelopeChunks(kept.map((k) => k.e));
}

/**
 * Envelopes cut into payload-sized chunks, in the order given: at most MAX_HISTORY_PER_PAYLOAD
 * envelopes and HISTORY_CHUNK_BYTES bytes each (each envelope at most MAX_HISTORY_ENVELOPE_BYTES).
 * Shared by history bundles and owed messages (owed-messages.ts).
 */
export function envelopeChunks(envelopes: readonly Uint8Array[]): Uint8Array[][] {
  const chunks: Uint8Array[][] = [];
  let chunk: Uint8Array[] = [];
  let bytes = 0;
  for (const e of envelopes) {
    if (chunk.length >= MAX_HISTORY_PER_PAYLOAD || bytes + e.length > HISTORY_CHUNK_BYTES) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(e);
    bytes += e.length;
  }
  if (chunk.length) chunks.push(chunk);
  return chunks;
}

/** Whether `key` is or was a member: the creator, a member now, or the author of an admitted join. */
function wasMember(events: Iterable<GroupEvent>, st: GroupState, key: Uint8Array): boolean {
  if (st.members.has(toHex(key)) || equalBytes(st.creator, key)) return true;
  const refused = new Set(st.rejected.map((r) => toHex(r.id)));
  for (const e of events)
    if (e.type === 'join' && equalBytes(e.author, key) && !refused.has(toHex(e.id))) return true;
  return false;
}

/** A checked envelope from a bundle, ready to become a message record. */
export interface SharedMessage {
  env: Envelope;
  body: GroupBody;
}

/**
 * Checks a `hist` payload from member `from` (docs/decisions/0014). Any failure refuses the
 * whole payload: VerificationError for an envelope whose id or signature does not verify or
 * that belongs to another group, ProtocolError for one that may not be shared (sharing off, a
 * sender or author who is not a member, from before the switch, a kind that is not a message).
 */
export function checkHistory(
  group: Uint8Array,
  events: GroupEvent[],
  st: GroupState,
  from: Uint8Array,
  envelopes: Uint8Array[],
): SharedMessage[] {
  const since = sharingSince(events, st);
  if (!since) throw new ProtocolError('history bundle while history sharing is off');
  if (!st.members.has(toHex(from))) throw new ProtocolError('history bundle from a non-member');
  const out: SharedMessage[] = [];
  for (const bytes of envelopes) {
    const shared = checkGroupEnvelope(group, bytes);
    if (!wasMember(events, st, shared.env.device))
      throw new ProtocolError('shared message by someone never a member');
    if (shared.env.ts < since.ts)
      throw new ProtocolError('shared message from before history sharing was on');
    out.push(shared);
  }
  return out;
}

/**
 * One author's signed group envelope passed on over a 1:1 session (a history bundle, an owed
 * message): VerificationError if its id or signature does not verify or it belongs to another
 * group, ProtocolError if it is not a group message (kind and body as for a live one).
 */
export function checkGroupEnvelope(group: Uint8Array, bytes: Uint8Array): SharedMessage {
  const env = decodeEnvelope(bytes); // id and signature: VerificationError
  if (!equalBytes(env.conv, group)) throw new VerificationError('shared message of another conversation');
  return { env, body: decodeGroupBody(env.kind, env.body) };
}

/** New history records from checked messages, skipping those I have; QuotaError past the bound. */
export function historyRecords(
  shared: SharedMessage[],
  have: GroupMessageRecord[],
  now: number,
): GroupMessageRecord[] {
  const known = new Set(have.map((r) => toHex(r.id)));
  const fresh: GroupMessageRecord[] = [];
  for (const s of shared) {
    const id = toHex(s.env.id);
    if (known.has(id)) continue;
    known.add(id);
    fresh.push({
      id: s.env.id,
      author: s.env.device,
      ...s.body,
      dir: 'in',
      parents: s.env.parents,
      lamport: s.env.lamport,
      ts: s.env.ts,
      received: now,
      delivered: 0,
      read: 0,
      // History, not news: `parus read` does not announce it and no read receipt goes back.
      shown: true,
      readByMe: true,
      hist: true,
    });
  }
  const already = have.filter((r) => r.hist).length;
  if (already + fresh.length > MAX_HISTORY_MESSAGES)
    throw new QuotaError(`at most ${MAX_HISTORY_MESSAGES} shared messages per group`);
  return fresh;
}
