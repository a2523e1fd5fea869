import { beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../src/bytes.ts';
import { decodeCbor, encodeCbor, type CborMap } from '../src/cbor.ts';
import { initCrypto } from '../src/crypto.ts';
import { DecodeError, ProtocolError, UsageError } from '../src/errors.ts';
import {
  MAX_SYNC_GROUP_SECTION_BYTES,
  MAX_SYNC_OPS,
  decodeSyncBody,
  encodeSyncBody,
  type SyncOp,
} from '../src/sync-body.ts';
import {
  MAX_PIN_TAGS,
  applySyncOp,
  decodeSyncState,
  emptySyncState,
  encodeSyncState,
  syncDeleted,
  syncPinTags,
  syncRegister,
  type SyncState,
} from '../src/sync-state.ts';
import { expectTruncationsRejected, scriptedRandom, seededInts } from './contact-test-helpers.ts';

const rng = scriptedRandom('sync-state');
const A = new Uint8Array(8).fill(0xa1);
const B = new Uint8Array(8).fill(0xb2);
const C = new Uint8Array(8).fill(0x03);
let conv: Uint8Array;
let conv2: Uint8Array;
let m1: Uint8Array;
let m2: Uint8Array;
let m3: Uint8Array;

beforeAll(async () => {
  await initCrypto();
  conv = rng.bytes(16);
  conv2 = rng.bytes(16);
  m1 = rng.bytes(32);
  m2 = rng.bytes(32);
  m3 = rng.bytes(32);
});

/** Operations of three devices that touch the same things at once (conflicts on purpose). */
function conflictingOps(): SyncOp[] {
  return [
    { t: 'alias', conv, alias: 'bob (laptop)', l: 5, d: A },
    { t: 'alias', conv, alias: 'bob (phone)', l: 5, d: B },
    { t: 'alias', conv, alias: 'bob old', l: 3, d: C },
    { t: 'state', conv, state: 'validated', l: 2, d: A },
    { t: 'state', conv, state: 'compromised', l: 7, d: C },
    { t: 'mute', chat: conv2, until: 1000, l: 4, d: A },
    { t: 'mute', chat: conv2, until: 0, l: 4, d: B },
    { t: 'pin', chat: conv, l: 1, d: A },
    { t: 'unpin', chat: conv, tags: [{ l: 1, d: A }], l: 6, d: B },
    { t: 'pin', chat: conv, l: 6, d: C }, // concurrent with the unpin: survives it
    { t: 'pin', chat: conv2, l: 2, d: B },
    { t: 'read', conv, upto: 10, l: 8, d: A },
    { t: 'read', conv, upto: 12, l: 3, d: B },
    { t: 'del', conv, id: m1, at: 4, l: 9, d: B },
    { t: 'del', conv, id: m3, at: 30, l: 9, d: C },
    { t: 'clear', conv, upto: 20, l: 11, d: A },
    { t: 'clear', conv, upto: 15, l: 12, d: C },
    { t: 'del', conv: conv2, id: m2, at: 1, l: 2, d: A },
  ];
}

function applyAll(ops: SyncOp[]): SyncState {
  return ops.reduce(applySyncOp, emptySyncState());
}

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

describe('sync merge rules', () => {
  it('resolves conflicts: last writer by (clock, device), add-wins pins, max reads, deletes kept', () => {
    const s = applyAll(conflictingOps());
    expect(syncRegister(s, 'alias', conv)).toBe('bob (phone)'); // same clock: the higher device id
    expect(syncRegister(s, 'state', conv)).toBe('compromised');
    expect(syncRegister(s, 'mute', conv2)).toBe(0);
    expect(syncPinTags(s, conv)).toEqual([{ l: 6, d: C }]);
    expect(syncPinTags(s, conv2)).toHaveLength(1);
    expect(s.read.get(toHex(conv))).toBe(12);
    expect(syncDeleted(s, conv, m1, 4)).toBe(true); // absorbed by the conversation's delete
    expect(syncDeleted(s, conv, m2, 19)).toBe(true); // any message up to clock 20
    expect(syncDeleted(s, conv, m2, 21)).toBe(false);
    expect(syncDeleted(s, conv, m3, 30)).toBe(true);
    expect(syncDeleted(s, conv2, m2, 1)).toBe(true);
    expect(s.clock).toBe(12);
    expect(s.deleted.get(toHex(conv))?.size).toBe(1); // m1 absorbed, m3 kept
  });

  it('ends in the same state for every order of the same operations (random orders, repeats)', () => {
    const ops = conflictingOps();
    const reference = toHex(encodeSyncState(applyAll(ops)));
    const next = seededInts(39);
    for (let i = 0; i < 400; i++) {
      const shuffled = [...ops];
      for (let j = shuffled.length - 1; j > 0; j--) {
        const k = next(j + 1);
        [shuffled[j], shuffled[k]] = [shuffled[k]!, shuffled[j]!];
      }
      // Repeats too: a sync message may arrive twice.
      const withRepeats = [...shuffled, ...shuffled.filter(() => next(3) === 0)];
      expect(toHex(encodeSyncState(applyAll(withRepeats)))).toBe(reference);
    }
  });

  it('ends in the same state for every permutation of a smaller set', () => {
    const ops = conflictingOps().filter((_, i) => [0, 1, 7, 8, 9, 13, 15].includes(i));
    const reference = toHex(encodeSyncState(applyAll(ops)));
    for (const p of permutations(ops)) expect(toHex(encodeSyncState(applyAll(p)))).toBe(reference);
  });

  it('never undoes a delete: a later operation of any kind leaves the tombstone', () => {
    let s = applyAll([{ t: 'del', conv, id: m1, at: 4, l: 1, d: A }]);
    for (const op of conflictingOps()) s = applySyncOp(s, { ...op, l: op.l + 100 });
    expect(syncDeleted(s, conv, m1, 4)).toBe(true);
    s = applySyncOp(s, { t: 'clear', conv: conv2, upto: 0, l: 500, d: B });
    expect(syncDeleted(s, conv2, m2, 1)).toBe(true);
  });

  it('refuses an operation past a bound and leaves the state', () => {
    let s = emptySyncState();
    for (let i = 0; i < MAX_PIN_TAGS; i++) s = applySyncOp(s, { t: 'pin', chat: conv, l: i + 1, d: A });
    const before = toHex(encodeSyncState(s));
    expect(() => applySyncOp(s, { t: 'pin', chat: conv, l: 1000, d: B })).toThrow(ProtocolError);
    expect(toHex(encodeSyncState(s))).toBe(before);
  });

  it('stores a state canonically and decodes it strictly', () => {
    const s = applyAll(conflictingOps());
    const bytes = encodeSyncState(s);
    const back = decodeSyncState(bytes);
    expect(toHex(encodeSyncState(back))).toBe(toHex(bytes));
    expect(syncPinTags(back, conv)).toEqual([{ l: 6, d: C }]);
    expectTruncationsRejected(bytes, decodeSyncState);
    const m = decodeCbor(bytes) as CborMap;
    expect(() => decodeSyncState(encodeCbor({ ...m, extra: 1 }))).toThrow(DecodeError);
    expect(() => decodeSyncState(encodeCbor({ ...m, v: 2 }))).toThrow(DecodeError);
  });
});

describe('sync body codec', () => {
  function everyKind(): SyncOp[] {
    return [
      ...conflictingOps(),
      { t: 'sent', env: rng.bytes(300), l: 1, d: A },
      {
        t: 'contact',
        contact: {
          alias: 'carol',
          name: 'Carol',
          state: 'unvalidated',
          identity: rng.bytes(64),
          their: rng.bytes(32),
          device: rng.bytes(32),
          sk: rng.bytes(32),
          tsk: rng.bytes(32),
          set: rng.bytes(400),
          myset: rng.bytes(400),
          next: rng.bytes(80),
        },
        l: 2,
        d: B,
      },
      { t: 'log', log: rng.bytes(100), l: 3, d: A },
      { t: 'inbox', card: rng.bytes(100), l: 3, d: A },
      { t: 'myset', conv, set: rng.bytes(400), l: 3, d: B },
      { t: 'myset', conv, set: rng.bytes(400), id: rng.bytes(64), next: rng.bytes(80), l: 3, d: A },
      { t: 'group', g: conv, sec: rng.bytes(500), l: 4, d: B },
      { t: 'group', g: conv, ev: [rng.bytes(200)], key: rng.bytes(64), nx: rng.bytes(80), l: 5, d: A },
    ];
  }

  it('round-trips every kind of operation, canonically', () => {
    const ops = everyKind();
    const bytes = encodeCbor(encodeSyncBody(ops));
    const back = decodeSyncBody(decodeCbor(bytes));
    expect(back).toEqual(ops);
    expect(toHex(encodeCbor(encodeSyncBody(back)))).toBe(toHex(bytes));
  });

  it('refuses unknown operations and fields, wrong sizes, and too many or no operations', () => {
    const ok = encodeSyncBody([{ t: 'read', conv, upto: 1, l: 1, d: A }]) as { ops: CborMap[] };
    const op = ok.ops[0]!;
    const bad = (o: CborMap) => () => decodeSyncBody({ ops: [o] });
    expect(bad({ ...op, t: 'nope' })).toThrow(DecodeError);
    expect(bad({ ...op, t: 'constructor' })).toThrow(DecodeError);
    expect(bad({ ...op, extra: 1 })).toThrow(DecodeError);
    expect(bad({ ...op, conv: rng.bytes(15) })).toThrow(DecodeError);
    expect(bad({ ...op, d: rng.bytes(7) })).toThrow(DecodeError);
    expect(bad({ ...op, upto: -1 })).toThrow(DecodeError);
    expect(bad({ t: 'state', conv, state: 'trusted', l: 1, d: A })).toThrow(DecodeError);
    expect(bad({ t: 'alias', conv, alias: '', l: 1, d: A })).toThrow(DecodeError);
    // A device set op (decision 0067): sizes of the identity secret, the sealed seed and the set.
    const set = rng.bytes(100);
    expect(bad({ t: 'myset', conv, set, id: rng.bytes(63), l: 1, d: A })).toThrow(DecodeError);
    expect(bad({ t: 'myset', conv, set, next: rng.bytes(79), l: 1, d: A })).toThrow(DecodeError);
    expect(bad({ t: 'myset', conv, set: rng.bytes(32 * 1024 + 1), l: 1, d: A })).toThrow(DecodeError);
    expect(bad({ t: 'myset', conv, l: 1, d: A })).toThrow(DecodeError);
    expect(() => decodeSyncBody({ ops: [] })).toThrow(DecodeError);
    expect(() => decodeSyncBody({ ops: Array(MAX_SYNC_OPS + 1).fill(op) })).toThrow(DecodeError);
    expect(() => decodeSyncBody({ ops: [op], more: 1 })).toThrow(DecodeError);
    expect(() => encodeSyncBody([])).toThrow(UsageError);
  });

  it('refuses a group operation with nothing in it, or a section over its bound (decision 0060)', () => {
    const bad = (o: CborMap) => () => decodeSyncBody({ ops: [o] });
    expect(bad({ t: 'group', g: conv, l: 1, d: A })).toThrow(DecodeError);
    expect(
      bad({ t: 'group', g: conv, sec: rng.bytes(MAX_SYNC_GROUP_SECTION_BYTES + 1), l: 1, d: A }),
    ).toThrow(DecodeError);
    expect(bad({ t: 'group', g: conv, sec: 'text', l: 1, d: A })).toThrow(DecodeError);
    expect(decodeSyncBody({ ops: [{ t: 'group', g: conv, sec: rng.bytes(10), l: 1, d: A }] })).toHaveLength(
      1,
    );
  });
});
