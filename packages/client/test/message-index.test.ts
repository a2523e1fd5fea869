// The group message index (message-index.ts) against the definitions it replaces: the heads,
// clocks, anti-backdating test and author times computed from every stored record, for random
// conversations taken in at random orders.
import { describe, expect, it } from 'vitest';
import { dagHeads, equalBytes, nextLamport, toHex } from '@parus/core';
import type { GroupMessageRecord } from '../src/groups/group-records.ts';
import { GroupMessageIndex } from '../src/groups/message-index.ts';
import { numberedId, seededInts } from './support/seeded.ts';

const authors = [1, 2, 3].map((n) => numberedId(1000 + n));

/** A conversation of `count` messages: parents among recent ones, some placed late, some ids unknown. */
function conversation(count: number, seed: number): GroupMessageRecord[] {
  const next = seededInts(seed);
  const out: GroupMessageRecord[] = [];
  for (let i = 0; i < count; i++) {
    const parents: Uint8Array[] = [];
    for (let k = next(3); k > 0 && out.length > 0; k--)
      parents.push(out[Math.max(0, out.length - 1 - next(6))]!.id);
    if (next(10) === 0) parents.push(numberedId(5000 + i)); // a parent never seen here
    const lamport =
      1 + Math.max(0, ...out.filter((o) => parents.some((p) => equalBytes(p, o.id))).map((o) => o.lamport));
    const r: GroupMessageRecord = {
      id: numberedId(i),
      author: authors[next(3)]!,
      dir: 'in',
      kind: 'text',
      text: '',
      parents,
      lamport,
      ts: 10_000 + next(1000),
      received: 10_000 + i * 100 + next(100),
      delivered: 0,
      read: 0,
      shown: true,
      readByMe: true,
    };
    if (next(8) === 0) r.place = { parents: out.length ? [out.at(-1)!.id] : [], lamport: out.length + 1 };
    out.push(r);
  }
  return out;
}

/** The anti-backdating test as the engine ran it over every stored record. */
function backdatedByScan(
  records: GroupMessageRecord[],
  parents: Uint8Array[],
  now: number,
  windowMs: number,
): boolean {
  if (records.length === 0) return false;
  if (parents.length === 0) return records.some((r) => r.received < now - windowMs);
  let latest = -1;
  for (const p of parents) {
    let superseded = Infinity;
    let known = false;
    for (const r of records) {
      if (equalBytes(r.id, p)) known = true;
      if (r.parents.some((x) => equalBytes(x, p))) superseded = Math.min(superseded, r.received);
    }
    if (!known) continue;
    if (superseded === Infinity) return false;
    latest = Math.max(latest, superseded);
  }
  return latest >= 0 && latest < now - windowMs;
}

const hexes = (list: Uint8Array[]): string[] => list.map(toHex);

describe('GroupMessageIndex', () => {
  it('answers as a scan of every stored record, message after message, in any order', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const all = conversation(5 + (seed % 40), seed);
      const next = seededInts(seed * 7);
      const order = [...all].sort(() => next(3) - 1);
      const index = new GroupMessageIndex();
      const seen: GroupMessageRecord[] = [];
      for (const r of order) {
        expect(index.put(r)).toBe(true);
        seen.push(r);
        const claimed = seen.map((x) => ({ ...x }));
        const placed = seen.map((x) => ({
          ...x,
          parents: x.place?.parents ?? x.parents,
          lamport: x.place?.lamport ?? x.lamport,
        }));
        expect(hexes(index.next().parents)).toEqual(hexes(dagHeads(claimed).slice(-32)));
        expect(index.next().lamport).toBe(nextLamport(claimed));
        expect(hexes(index.nextPlaced().parents)).toEqual(hexes(dagHeads(placed).slice(-32)));
        expect(index.nextPlaced().lamport).toBe(nextLamport(placed));
        for (const a of authors)
          expect(index.timesOf(a).map((t) => t.ts)).toEqual(
            seen.filter((x) => equalBytes(x.author, a)).map((x) => x.ts),
          );
        const probe = [[], [seen[next(seen.length)]!.id], [all[next(all.length)]!.id, numberedId(9999)]];
        for (const parents of probe)
          for (const now of [10_000, 12_000, 20_000])
            expect(index.backdated(parents, now, 1_000)).toBe(backdatedByScan(seen, parents, now, 1_000));
      }
      expect(GroupMessageIndex.from(all).next()).toEqual(index.next());
    }
  });

  it('takes a record again as it was, and says it is stale when a late message is placed', () => {
    const all = conversation(12, 5);
    const late = all.find((r) => r.place)!;
    const index = GroupMessageIndex.from(all);
    expect(index.put({ ...late, shown: false })).toBe(true);
    const confirmed = { ...late };
    delete confirmed.place;
    expect(index.put(confirmed)).toBe(false);
  });
});
