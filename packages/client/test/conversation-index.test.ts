// The 1:1 conversation index (conversation-index.ts) against the definitions it replaces: the
// heads, clock and missing parents computed from every stored record, and the scan for an
// `unsend` that arrived before its target, for random conversations taken in at random orders.
import { describe, expect, it } from 'vitest';
import { dagHeads, equalBytes, missingParents, nextLamport, toHex } from '@parus/core';
import { ConversationIndex } from '../src/conversation-index.ts';
import type { MessageRecord } from '../src/records.ts';
import { numberedId, seededInts, shuffled } from './support/seeded.ts';

/** `count` messages both ways: parents among recent ones, some unsends, some parents never seen. */
function conversation(count: number, seed: number): MessageRecord[] {
  const next = seededInts(seed);
  const out: MessageRecord[] = [];
  for (let i = 0; i < count; i++) {
    const parents: Uint8Array[] = [];
    for (let k = next(3); k > 0 && out.length > 0; k--)
      parents.push(out[Math.max(0, out.length - 1 - next(6))]!.id);
    if (next(10) === 0) parents.push(numberedId(5000 + i));
    const lamport =
      1 + Math.max(0, ...out.filter((o) => parents.some((p) => equalBytes(p, o.id))).map((o) => o.lamport));
    const unsend = out.length > 0 && next(6) === 0;
    out.push({
      id: numberedId(i),
      contact: numberedId(9999),
      dir: next(2) === 0 ? 'in' : 'out',
      kind: unsend ? 'unsend' : 'text',
      text: '',
      parents,
      lamport,
      ts: 10_000 + i,
      received: 10_000 + i,
      status: 'received',
      shown: true,
      envelope: new Uint8Array(0),
      ...(unsend ? { target: out[next(out.length)]!.id } : {}),
    });
  }
  return out;
}

describe('ConversationIndex', () => {
  it('answers as the scan of every stored record, message by message, in any order of arrival', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const next = seededInts(seed + 77);
      const records = shuffled(conversation(1 + (seed % 40) * 2, seed), next);
      const index = new ConversationIndex();
      const stored: MessageRecord[] = [];
      for (const r of records) {
        // What the receiver asks before storing r, then after.
        expect(index.missingWith(r).map(toHex)).toEqual(missingParents([...stored, r]).map(toHex));
        const takenBack = stored.some(
          (m) => m.kind === 'unsend' && m.dir === 'in' && equalBytes(m.target!, r.id),
        );
        expect(index.takenBackBeforeArrival(r.id)).toBe(takenBack);
        index.put(r);
        if (next(5) === 0) index.put(r); // stored again (a status change): nothing moves
        stored.push(r);
        const at = index.next();
        expect(at.parents.map(toHex)).toEqual(dagHeads(stored).slice(-32).map(toHex));
        expect(at.lamport).toBe(nextLamport(stored));
        expect(index.missingParents().map(toHex)).toEqual(missingParents(stored).map(toHex));
      }
      expect(index.size).toBe(records.length);
      const rebuilt = ConversationIndex.from(stored);
      expect(rebuilt.next()).toEqual(index.next());
    }
  });

  it('starts an empty conversation at clock 1 with no parents', () => {
    const index = ConversationIndex.from([]);
    expect(index.next()).toEqual({ parents: [], lamport: 1 });
    expect(index.missingParents()).toEqual([]);
  });
});
