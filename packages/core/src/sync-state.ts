/**
 * What the account's devices agree on through sync operations (sync-body.ts), and the merge
 * rules that make every device end in the same state whatever order the operations arrive in
 * (docs/decisions/0030 "Conflicts", 0039). Pure: state in, new state out.
 *
 * - Registers (a contact's alias and state, a chat's mute): last writer wins, ordered by the
 *   stamp (Lamport clock, then device id bytes); an equal stamp keeps what is there.
 * - Pins: an add-wins set with tombstones (an observed-remove set): a pin is tagged with its
 *   stamp, an unpin removes only the tags its author had seen, so a concurrent pin survives.
 * - Read (已讀): the highest clock read up to, per conversation (a max register).
 * - Deletes for me: tombstones by message id, kept for good; a conversation's delete is a
 *   tombstone of every message up to its clock (the highest wins), which also absorbs the
 *   single tombstones it covers. A delete is never undone: no operation removes a tombstone,
 *   so a late copy of a deleted message stays deleted (seed 003 "deletable logs").
 *
 * `sent`, `contact`, `log` and `inbox` operations change no register here: the client applies
 * them (a message, a contact, the device log, an inbox card), asking `syncDeleted` first.
 *
 * Bounds: at most MAX_SYNC_TOMBSTONES single tombstones, MAX_SYNC_KEYS registers and
 * conversations, MAX_PIN_TAGS tags per chat; an operation that would pass one is refused
 * (ProtocolError) and the state is unchanged.
 */
import { compareBytes, equalBytes, toHex } from './bytes.ts';
import { asArray, asBytes, asMap, asText, asUint, decodeCbor, encodeCbor, type CborValue } from './cbor.ts';
import { DEVICE_ID_BYTES } from './device-log.ts';
import { CONVERSATION_ID_BYTES, ENVELOPE_ID_BYTES } from './envelope.ts';
import { DecodeError, ProtocolError } from './errors.ts';
import {
  MAX_SYNC_ALIAS_CHARS,
  SYNC_CONTACT_STATES,
  type SyncContactState,
  type SyncOp,
  type SyncStamp,
} from './sync-body.ts';

export const MAX_SYNC_TOMBSTONES = 100_000;
export const MAX_SYNC_KEYS = 100_000;
export const MAX_PIN_TAGS = 256;
const STATE_VERSION = 1;

export type SyncRegister =
  | { kind: 'alias'; value: string }
  | { kind: 'state'; value: SyncContactState }
  | { kind: 'mute'; value: number };

interface Held<T> {
  stamp: SyncStamp;
  value: T;
}

/** Immutable: every apply returns a new state. Keys are lowercase hex ids. */
export interface SyncState {
  /** The highest clock seen: a device stamps its next operation above it. */
  readonly clock: number;
  /** `alias:<conv>`, `state:<conv>`, `mute:<chat>` → the winning write. */
  readonly registers: ReadonlyMap<string, Held<string | number>>;
  /** chat → live tags (tag key → stamp) and removed tag keys. */
  readonly pins: ReadonlyMap<string, { adds: ReadonlyMap<string, SyncStamp>; removed: ReadonlySet<string> }>;
  /** conv → message id → its clock. */
  readonly deleted: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** conv → every message up to this clock is deleted. */
  readonly cleared: ReadonlyMap<string, number>;
  /** conv → read up to this clock. */
  readonly read: ReadonlyMap<string, number>;
}

export function emptySyncState(): SyncState {
  return {
    clock: 0,
    registers: new Map(),
    pins: new Map(),
    deleted: new Map(),
    cleared: new Map(),
    read: new Map(),
  };
}

/** Orders stamps: by clock, then by device id bytes. */
export function compareSyncStamps(a: SyncStamp, b: SyncStamp): number {
  return a.l !== b.l ? (a.l < b.l ? -1 : 1) : compareBytes(a.d, b.d);
}

function tagKey(s: SyncStamp): string {
  return `${s.l}.${toHex(s.d)}`;
}

function tombstoneCount(deleted: SyncState['deleted']): number {
  let n = 0;
  for (const m of deleted.values()) n += m.size;
  return n;
}

function setRegister(state: SyncState, key: string, stamp: SyncStamp, value: string | number): SyncState {
  const held = state.registers.get(key);
  if (held && compareSyncStamps(held.stamp, stamp) >= 0) return state;
  if (!held && state.registers.size >= MAX_SYNC_KEYS) throw new ProtocolError('too many synced settings');
  const registers = new Map(state.registers);
  registers.set(key, { stamp: { l: stamp.l, d: stamp.d }, value });
  return { ...state, registers };
}

function raise(
  map: ReadonlyMap<string, number>,
  key: string,
  value: number,
): Map<string, number> | undefined {
  const held = map.get(key);
  if (held !== undefined && held >= value) return undefined;
  if (held === undefined && map.size >= MAX_SYNC_KEYS)
    throw new ProtocolError('too many synced conversations');
  const next = new Map(map);
  next.set(key, value);
  return next;
}

/**
 * The state after `op`. Commutative, associative and idempotent over a set of operations, so
 * every order (and every repetition) of the same operations gives the same state. ProtocolError
 * past a bound, with `state` unchanged.
 */
export function applySyncOp(state: SyncState, op: SyncOp): SyncState {
  let s: SyncState = op.l > state.clock ? { ...state, clock: op.l } : state;
  switch (op.t) {
    case 'alias':
      return setRegister(s, `alias:${toHex(op.conv)}`, op, op.alias);
    case 'state':
      return setRegister(s, `state:${toHex(op.conv)}`, op, op.state);
    case 'mute':
      return setRegister(s, `mute:${toHex(op.chat)}`, op, op.until);
    case 'read': {
      const read = raise(s.read, toHex(op.conv), op.upto);
      return read ? { ...s, read } : s;
    }
    case 'clear': {
      const c = toHex(op.conv);
      const cleared = raise(s.cleared, c, op.upto);
      if (!cleared) return s;
      s = { ...s, cleared };
      // Single tombstones the conversation's delete covers are absorbed by it.
      const singles = s.deleted.get(c);
      if (singles) {
        const kept = new Map([...singles].filter(([, at]) => at > op.upto));
        const deleted = new Map(s.deleted);
        if (kept.size) deleted.set(c, kept);
        else deleted.delete(c);
        s = { ...s, deleted };
      }
      return s;
    }
    case 'del': {
      const c = toHex(op.conv);
      const id = toHex(op.id);
      if (op.at <= (s.cleared.get(c) ?? -1) || s.deleted.get(c)?.has(id)) return s;
      if (tombstoneCount(s.deleted) >= MAX_SYNC_TOMBSTONES)
        throw new ProtocolError('too many deleted messages');
      const deleted = new Map(s.deleted);
      deleted.set(c, new Map(s.deleted.get(c)).set(id, op.at));
      return { ...s, deleted };
    }
    case 'pin': {
      const c = toHex(op.chat);
      const held = s.pins.get(c) ?? { adds: new Map(), removed: new Set() };
      const k = tagKey(op);
      if (held.adds.has(k) || held.removed.has(k)) return s;
      if (held.adds.size + held.removed.size >= MAX_PIN_TAGS)
        throw new ProtocolError('too many pins of a chat');
      if (!s.pins.has(c) && s.pins.size >= MAX_SYNC_KEYS) throw new ProtocolError('too many pinned chats');
      const pins = new Map(s.pins);
      pins.set(c, { adds: new Map(held.adds).set(k, { l: op.l, d: op.d }), removed: held.removed });
      return { ...s, pins };
    }
    case 'unpin': {
      const c = toHex(op.chat);
      const held = s.pins.get(c) ?? { adds: new Map(), removed: new Set() };
      const fresh = op.tags.map(tagKey).filter((k) => !held.removed.has(k));
      if (fresh.length === 0) return s;
      if (held.removed.size + held.adds.size + fresh.length > MAX_PIN_TAGS + MAX_PIN_TAGS)
        throw new ProtocolError('too many pins of a chat');
      if (!s.pins.has(c) && s.pins.size >= MAX_SYNC_KEYS) throw new ProtocolError('too many pinned chats');
      const adds = new Map(held.adds);
      const removed = new Set(held.removed);
      for (const k of fresh) {
        adds.delete(k);
        removed.add(k);
      }
      const pins = new Map(s.pins);
      pins.set(c, { adds, removed });
      return { ...s, pins };
    }
    default:
      return s;
  }
}

/** Whether message `id` (clock `at`) of conversation `conv` was deleted for me. */
export function syncDeleted(state: SyncState, conv: Uint8Array, id: Uint8Array, at: number): boolean {
  const c = toHex(conv);
  return at <= (state.cleared.get(c) ?? -1) || (state.deleted.get(c)?.has(toHex(id)) ?? false);
}

/** The pin tags of a chat as they stand (what an unpin names). Empty: not pinned. */
export function syncPinTags(state: SyncState, chat: Uint8Array): SyncStamp[] {
  return [...(state.pins.get(toHex(chat))?.adds.values() ?? [])];
}

export function syncRegister(state: SyncState, kind: 'alias', conv: Uint8Array): string | undefined;
export function syncRegister(state: SyncState, kind: 'state', conv: Uint8Array): SyncContactState | undefined;
export function syncRegister(state: SyncState, kind: 'mute', chat: Uint8Array): number | undefined;
export function syncRegister(
  state: SyncState,
  kind: SyncRegister['kind'],
  id: Uint8Array,
): string | number | undefined {
  return state.registers.get(`${kind}:${toHex(id)}`)?.value;
}

/** The stamp a device gives its next operation: above every clock it has seen. */
export function nextSyncStamp(state: SyncState, device: Uint8Array): SyncStamp {
  return { l: state.clock + 1, d: device };
}

// ---- Storage: one canonical CBOR map (the same state always encodes to the same bytes) ----

const sorted = <T>(m: ReadonlyMap<string, T>): Array<[string, T]> =>
  [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

export function encodeSyncState(s: SyncState): Uint8Array {
  return encodeCbor({
    v: STATE_VERSION,
    clock: s.clock,
    regs: sorted(s.registers).map(([k, h]) => [k, h.stamp.l, h.stamp.d, h.value]),
    pins: sorted(s.pins).map(([k, p]) => [
      k,
      sorted(p.adds).map(([, st]) => [st.l, st.d]),
      [...p.removed].sort(),
    ]),
    del: sorted(s.deleted).map(([k, ids]) => [k, sorted(ids).map(([id, at]) => [id, at])]),
    clear: sorted(s.cleared).map(([k, v]) => [k, v]),
    read: sorted(s.read).map(([k, v]) => [k, v]),
  });
}

const HEX_CONV = new RegExp(`^[0-9a-f]{${2 * CONVERSATION_ID_BYTES}}$`);
const HEX_ID = new RegExp(`^[0-9a-f]{${2 * ENVELOPE_ID_BYTES}}$`);
const TAG = new RegExp(`^(0|[1-9][0-9]{0,15})\\.[0-9a-f]{${2 * DEVICE_ID_BYTES}}$`);

function hexKey(v: CborValue | undefined, re: RegExp, what: string): string {
  const k = asText(v, what, 80);
  if (!re.test(k)) throw new DecodeError(`${what} is not a hex id`);
  return k;
}

function pairs(v: CborValue | undefined, what: string, max: number): CborValue[][] {
  return asArray(v, what, max).map((x) => asArray(x, what, 4));
}

/** Strict decoding of a stored state (DecodeError); its bounds are the merge's. */
export function decodeSyncState(bytes: Uint8Array): SyncState {
  const m = asMap(
    decodeCbor(bytes, {
      maxBytes: 64 * 1024 * 1024,
      maxDepth: 5,
      maxItems: MAX_SYNC_TOMBSTONES,
      maxTotalItems: 4 * MAX_SYNC_TOMBSTONES + 8 * MAX_SYNC_KEYS,
    }),
    'sync state',
  );
  for (const k of Object.keys(m))
    if (!['v', 'clock', 'regs', 'pins', 'del', 'clear', 'read'].includes(k))
      throw new DecodeError('sync state has unknown fields');
  if (asUint(m.v, 'sync state version') !== STATE_VERSION)
    throw new DecodeError('unknown sync state version');
  const registers = new Map<string, Held<string | number>>();
  for (const r of pairs(m.regs, 'sync registers', MAX_SYNC_KEYS)) {
    const key = asText(r[0], 'register key', 80);
    const [kind, id] = key.split(':') as [string, string | undefined];
    if (id === undefined || !HEX_CONV.test(id)) throw new DecodeError('bad register key');
    const stamp = {
      l: asUint(r[1], 'register clock'),
      d: asBytes(r[2], 'register device', { len: DEVICE_ID_BYTES }),
    };
    let value: string | number;
    if (kind === 'alias') value = asText(r[3], 'alias', MAX_SYNC_ALIAS_CHARS);
    else if (kind === 'state') {
      value = asText(r[3], 'contact state', 16);
      if (!(SYNC_CONTACT_STATES as readonly string[]).includes(value))
        throw new DecodeError('unknown contact state');
    } else if (kind === 'mute') value = asUint(r[3], 'mute until');
    else throw new DecodeError('unknown register');
    if (r.length !== 4 || registers.has(key)) throw new DecodeError('bad register');
    registers.set(key, { stamp, value });
  }
  const pins = new Map<string, { adds: Map<string, SyncStamp>; removed: Set<string> }>();
  for (const p of pairs(m.pins, 'sync pins', MAX_SYNC_KEYS)) {
    const chat = hexKey(p[0], HEX_CONV, 'pinned chat');
    const adds = new Map<string, SyncStamp>();
    for (const t of asArray(p[1], 'pin tags', MAX_PIN_TAGS)) {
      const a = asArray(t, 'pin tag', 2);
      const st = { l: asUint(a[0], 'pin clock'), d: asBytes(a[1], 'pin device', { len: DEVICE_ID_BYTES }) };
      adds.set(tagKey(st), st);
    }
    const removed = new Set(
      asArray(p[2], 'unpinned tags', 2 * MAX_PIN_TAGS).map((t) => hexKey(t, TAG, 'pin tag')),
    );
    if (p.length !== 3 || pins.has(chat)) throw new DecodeError('bad pin entry');
    pins.set(chat, { adds, removed });
  }
  const deleted = new Map<string, Map<string, number>>();
  let tombstones = 0;
  for (const d of pairs(m.del, 'sync tombstones', MAX_SYNC_KEYS)) {
    const c = hexKey(d[0], HEX_CONV, 'deleted conversation');
    const ids = new Map<string, number>();
    for (const x of asArray(d[1], 'deleted messages', MAX_SYNC_TOMBSTONES)) {
      const a = asArray(x, 'deleted message', 2);
      ids.set(hexKey(a[0], HEX_ID, 'deleted message'), asUint(a[1], 'deleted clock'));
    }
    tombstones += ids.size;
    if (d.length !== 2 || deleted.has(c) || tombstones > MAX_SYNC_TOMBSTONES)
      throw new DecodeError('bad tombstones');
    deleted.set(c, ids);
  }
  const counters = (v: CborValue | undefined, what: string): Map<string, number> => {
    const out = new Map<string, number>();
    for (const p of pairs(v, what, MAX_SYNC_KEYS)) {
      const c = hexKey(p[0], HEX_CONV, what);
      if (p.length !== 2 || out.has(c)) throw new DecodeError(`bad ${what}`);
      out.set(c, asUint(p[1], what));
    }
    return out;
  };
  const state: SyncState = {
    clock: asUint(m.clock, 'sync clock'),
    registers,
    pins,
    deleted,
    cleared: counters(m.clear, 'cleared conversation'),
    read: counters(m.read, 'read conversation'),
  };
  // One encoding per state: sorted, no repeats (what encodeSyncState writes).
  if (!equalBytes(encodeSyncState(state), bytes))
    throw new DecodeError('sync state is not in canonical form');
  return state;
}
