// The 1:1 conversation index (conversation-index.ts) against the definitions it replaces: the
// heads, clock and missing parents computed from every stored record, and the scan for an
// `unsend` that arrived before its target, for random conversations taken in at random orders.
import { describe, expect, it } from 'vitest';
import { dagHeads, equalBytes, missingParents, nextLamport, toHex } from '@parus/core';
import { ConversationIndex } from '../src/conversation-index.ts';
import type { MessageRecord } from '../src/records.ts';

function ints(seed: number): (bound: number) => number {
  let a = seed >>> 0;
  return (bound) => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return Math.floor((a / 4294967296) * bound);
  };
}

function id(n: number): Uint8Array {
  const out = new Uint8Array(32);
  new DataView(out.buffer).setUint32(0, n + 1);
  return out;
}

/** `count` messages both ways: parents among recent ones, some unsends, some parents never seen. */
function conversation(count: number, seed: number): MessageRecord[] {
  const next = ints(seed);
  const out: MessageRecord[] = [];
  for (let i = 0; i < count; i++) {
    const parents: Uint8Array[] = [];
    for (let k = next(3); k > 0 && out.length > 0; k--)
      parents.push(out[Math.max(0, out.length - 1 - next(6))]!.id);
    if (next(10) === 0) parents.push(id(5000 + i));
    const lamport =
      1 + Math.max(0, ...out.filter((o) => parents.some((p) => equalBytes(p, o.id))).map((o) => o.lamport));
    const unsend = out.length > 0 && next(6) === 0;
    out.push({
      id: id(i),
      contact: id(9999),
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

function shuffled<T>(items: readonly T[], next: (bound: number) => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = next(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('ConversationIndex', () => {
  it('answers as the scan of every stored record, message by message, in any order of arrival', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const next = ints(seed + 77);
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
