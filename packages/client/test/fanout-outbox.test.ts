// The outbox record of a group message sent by relay fan-out (docs/decisions/0012 "Delivery"):
// codecs (round trip, truncated, mutated, oversized) and the waiting/uploaded bitmaps.
import { beforeAll, describe, expect, it } from 'vitest';
import { StorageError, encodeCbor, initCrypto } from '@parus/core';
import {
  MAX_ROSTER,
  anyWaiting,
  decodeFanoutMessage,
  decodeFanoutRoster,
  encodeFanoutMessage,
  encodeFanoutRoster,
  hasRoster,
  isUploaded,
  isWaiting,
  rosterId,
  rosterView,
  updateFanout,
  waitingMembers,
  type FanoutMessage,
} from '../src/groups/fanout-outbox.ts';

beforeAll(async () => {
  await initCrypto();
});

const b = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
const record: FanoutMessage = { g: b(16, 1), frame: b(90, 2), p: b(80, 3), seq: 7, ro: b(16, 4), at: 0 };

describe('fan-out outbox records', () => {
  it('round-trip, with and without bitmaps', () => {
    expect(decodeFanoutMessage(encodeFanoutMessage(record))).toEqual(record);
    const next = updateFanout(record, 12, { clear: [3], uploaded: [0, 11] });
    expect(decodeFanoutMessage(encodeFanoutMessage(next))).toEqual(next);
    const roster = { c: [b(16, 5), b(16, 6)] };
    expect(decodeFanoutRoster(encodeFanoutRoster(roster))).toEqual(roster);
  });

  it('read a record written before rosters as such', () => {
    const legacy = decodeFanoutMessage(encodeCbor({ g: b(16, 1), frame: b(9, 2), p: b(9, 3) }));
    expect(hasRoster(legacy)).toBe(false);
    expect(hasRoster(decodeFanoutMessage(encodeFanoutMessage(record)))).toBe(true);
  });

  it('refuse truncated, mutated and oversized records with a StorageError', () => {
    const bytes = encodeFanoutMessage(record);
    expect(() => decodeFanoutMessage(bytes.subarray(0, bytes.length - 1))).toThrow(StorageError);
    const bad = [
      { ...record, g: b(15, 1) },
      { ...record, ro: b(17, 4) },
      { ...record, seq: -1 },
      { ...record, w: 'x' },
      { ...record, w: b(MAX_ROSTER / 8 + 1, 0xff) },
      { ...record, frame: b((1 << 20) + 1, 0) },
    ];
    for (const x of bad) expect(() => decodeFanoutMessage(encodeCbor(x as never))).toThrow(StorageError);
    expect(() => decodeFanoutRoster(encodeCbor({ c: [b(15, 1)] }))).toThrow(StorageError);
    expect(() =>
      decodeFanoutRoster(encodeCbor({ c: Array.from({ length: MAX_ROSTER + 1 }, () => b(16, 1)) })),
    ).toThrow(StorageError);
  });
});

describe('waiting and uploaded members', () => {
  it('start as everyone waiting, nobody reached', () => {
    for (const i of [0, 9, 999]) {
      expect(isWaiting(record, i)).toBe(true);
      expect(isUploaded(record, i)).toBe(false);
    }
    expect(anyWaiting(record, 10)).toBe(true);
    expect(anyWaiting(record, 0)).toBe(false);
    expect(waitingMembers(record, 10, false)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('shrink with receipts and grow with uploads, without changing the record given', () => {
    const size = 10;
    const a = updateFanout(record, size, { uploaded: [1, 2, 9] });
    expect(waitingMembers(a, size, true)).toEqual([1, 2, 9]);
    const c = updateFanout(a, size, { clear: [2, 5] });
    expect(waitingMembers(c, size, true)).toEqual([1, 9]);
    expect(waitingMembers(c, size, false)).toEqual([0, 3, 4, 6, 7, 8]);
    expect(isWaiting(a, 5)).toBe(true); // a is unchanged
    const done = updateFanout(c, size, { clear: [0, 1, 3, 4, 6, 7, 8, 9] });
    expect(anyWaiting(done, size)).toBe(false);
    // Bits past the roster's end never count as waiting.
    expect(done.w!.length).toBe(2);
  });

  it('a roster id is the hash of its members in order; a view indexes them', () => {
    const x = [b(16, 1), b(16, 2)];
    expect(rosterId(x)).toEqual(rosterId([b(16, 1), b(16, 2)]));
    expect(rosterId(x)).not.toEqual(rosterId([b(16, 2), b(16, 1)]));
    const view = rosterView('r', { c: x });
    expect(view.index.get('02'.repeat(16))).toBe(1);
  });
});
