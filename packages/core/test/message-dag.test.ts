import { describe, expect, it } from 'vitest';
import { compareBytes, toHex } from '../src/bytes.ts';
import { ProtocolError, UsageError } from '../src/errors.ts';
import {
  DagFrontier,
  causalOrder,
  dagHeads,
  missingParents,
  nextLamport,
  type DagNode,
} from '../src/message-dag.ts';
import { scriptedRandom, seededInts } from './contact-test-helpers.ts';

/** A readable id: the label's bytes, zero-padded to 32. */
function id(label: string): Uint8Array {
  const out = new Uint8Array(32);
  out.set(new TextEncoder().encode(label));
  return out;
}

function node(label: string, parents: string[], lamport: number, ts: number): DagNode {
  return { id: id(label), parents: parents.map(id), lamport, ts };
}

function labels(nodes: readonly DagNode[]): string[] {
  return nodes.map((n) => new TextDecoder().decode(n.id).replace(/\0+$/, ''));
}

function shuffle<T>(items: readonly T[], next: (bound: number) => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = next(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

/** Reference: the definition spelled out naively, O(n^2): smallest ready node, repeatedly. */
function referenceOrder(nodes: readonly DagNode[]): DagNode[] {
  const present = new Set(nodes.map((n) => toHex(n.id)));
  const placed = new Set<string>();
  const out: DagNode[] = [];
  const tie = (a: DagNode, b: DagNode): number =>
    a.lamport - b.lamport || a.ts - b.ts || compareBytes(a.id, b.id);
  while (out.length < nodes.length) {
    const ready = nodes.filter(
      (n) =>
        !placed.has(toHex(n.id)) && n.parents.every((p) => !present.has(toHex(p)) || placed.has(toHex(p))),
    );
    const next = ready.sort(tie)[0]!;
    placed.add(toHex(next.id));
    out.push(next);
  }
  return out;
}

/** A random DAG: each node picks up to 3 earlier nodes as parents, with clocks as honest senders set them. */
function randomDag(count: number, seed: number): DagNode[] {
  const next = seededInts(seed);
  const rng = scriptedRandom(`dag-${seed}`);
  const nodes: DagNode[] = [];
  for (let i = 0; i < count; i++) {
    const parents = new Map<string, DagNode>();
    for (let k = next(4); k > 0 && nodes.length > 0; k--) {
      const p = nodes[Math.max(0, nodes.length - 1 - next(8))]!;
      parents.set(toHex(p.id), p);
    }
    const lamport = Math.max(0, ...[...parents.values()].map((p) => p.lamport)) + 1;
    nodes.push({
      id: rng.bytes(32),
      parents: [...parents.values()].map((p) => p.id),
      lamport,
      ts: 1000 + next(50),
    });
  }
  return nodes;
}

describe('causalOrder', () => {
  it('orders a linear chain whatever the input order', () => {
    const chain = [
      node('a', [], 1, 50),
      node('b', ['a'], 2, 40),
      node('c', ['b'], 3, 30),
      node('d', ['c'], 4, 20),
    ];
    for (const p of permutations(chain)) expect(labels(causalOrder(p))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('puts parents first even when a child claims an older clock', () => {
    const nodes = [node('p', [], 9, 900), node('c', ['p'], 1, 1)];
    expect(labels(causalOrder(nodes))).toEqual(['p', 'c']);
  });

  it('merges concurrent branches deterministically', () => {
    // Alice and Bob both answer "a" at the same time; "d" has seen both.
    const nodes = [
      node('a', [], 1, 100),
      node('alice', ['a'], 2, 120),
      node('bob', ['a'], 2, 110),
      node('bob2', ['bob'], 3, 130),
      node('d', ['alice', 'bob2'], 4, 140),
    ];
    const expected = ['a', 'bob', 'alice', 'bob2', 'd'];
    for (const p of permutations(nodes)) expect(labels(causalOrder(p))).toEqual(expected);
    expect(labels(causalOrder(nodes))).toEqual(labels(referenceOrder(nodes)));
  });

  it('breaks ties by lamport, then ts, then id', () => {
    expect(labels(causalOrder([node('x', [], 2, 1), node('y', [], 1, 9)]))).toEqual(['y', 'x']);
    expect(labels(causalOrder([node('x', [], 1, 2), node('y', [], 1, 1)]))).toEqual(['y', 'x']);
    expect(labels(causalOrder([node('y', [], 1, 1), node('x', [], 1, 1)]))).toEqual(['x', 'y']);
  });

  it('gives one order for every permutation of a small DAG', () => {
    const nodes = [
      node('r', [], 1, 10),
      node('s', [], 1, 10),
      node('t', ['r'], 2, 5),
      node('u', ['r', 's'], 2, 5),
      node('v', ['t', 'u', 'gone'], 3, 1),
      node('w', ['u'], 3, 1),
    ];
    const expected = labels(referenceOrder(nodes));
    const seen = new Set<string>();
    for (const p of permutations(nodes)) seen.add(labels(causalOrder(p)).join());
    expect([...seen]).toEqual([expected.join()]);
  });

  it('gives the reference order for 200 shuffles of a 300-node DAG', () => {
    const nodes = randomDag(300, 42);
    const expected = labels(referenceOrder(nodes));
    const next = seededInts(99);
    for (let i = 0; i < 200; i++) expect(labels(causalOrder(shuffle(nodes, next)))).toEqual(expected);
  });

  it('never lets a missing parent stall later messages', () => {
    const nodes = [
      node('a', [], 1, 1),
      node('late', ['lost'], 3, 3),
      node('after', ['late', 'a'], 4, 4),
      node('b', ['a'], 2, 2),
    ];
    expect(labels(causalOrder(nodes))).toEqual(['a', 'b', 'late', 'after']);
    expect(missingParents(nodes).map(toHex)).toEqual([toHex(id('lost'))]);
  });

  it('orders cycles and self-parents deterministically instead of hanging', () => {
    const nodes = [
      node('a', ['b'], 2, 1),
      node('b', ['a'], 1, 1),
      node('c', ['c', 'a'], 1, 0),
      node('z', [], 5, 5),
    ];
    // z is ready at once; then nothing is, so the smallest unplaced node by the tie order
    // (c: lamport 1, ts 0) goes next, then b, which releases a.
    const expected = ['z', 'c', 'b', 'a'];
    for (const p of permutations(nodes)) expect(labels(causalOrder(p))).toEqual(expected);
  });

  it('returns the same objects, and handles empty input and repeated parents', () => {
    const a = { ...node('a', [], 1, 1), extra: 'kept' };
    const b = { ...node('b', ['a', 'a'], 2, 2), extra: 'too' };
    const ordered = causalOrder([b, a]);
    expect(ordered[0]).toBe(a);
    expect(ordered[1]!.extra).toBe('too');
    expect(causalOrder([])).toEqual([]);
  });

  it('refuses repeated ids with UsageError', () => {
    expect(() => causalOrder([node('a', [], 1, 1), node('a', [], 2, 2)])).toThrow(UsageError);
    expect(() => dagHeads([node('a', [], 1, 1), node('a', [], 2, 2)])).toThrow(UsageError);
  });

  it('sorts 20,000 nodes', () => {
    const nodes = randomDag(20_000, 7);
    const order = causalOrder(shuffle(nodes, seededInts(1)));
    const position = new Map(order.map((n, i) => [toHex(n.id), i]));
    let misplaced = 0;
    for (const n of nodes) {
      for (const p of n.parents) if (position.get(toHex(p))! > position.get(toHex(n.id))!) misplaced++;
    }
    expect(order).toHaveLength(nodes.length);
    expect(misplaced).toBe(0);
  });
});

describe('missingParents, dagHeads, nextLamport', () => {
  it('reports each missing parent once, sorted', () => {
    const nodes = [node('a', ['m2', 'm1'], 1, 1), node('b', ['m1', 'a'], 2, 2)];
    expect(missingParents(nodes).map(toHex)).toEqual([toHex(id('m1')), toHex(id('m2'))]);
    expect(missingParents([node('a', [], 1, 1)])).toEqual([]);
  });

  it('finds the heads: one after a merge, several on concurrent branches', () => {
    const base = [node('a', [], 1, 1), node('y', ['a'], 2, 2), node('x', ['a'], 2, 3)];
    expect(dagHeads(base).map(toHex)).toEqual([toHex(id('x')), toHex(id('y'))]);
    expect(dagHeads([...base, node('m', ['x', 'y'], 3, 4)]).map(toHex)).toEqual([toHex(id('m'))]);
    // A node naming only itself is still a head; a missing parent makes nothing a non-head.
    expect(dagHeads([node('s', ['s', 'gone'], 1, 1)]).map(toHex)).toEqual([toHex(id('s'))]);
    expect(dagHeads([])).toEqual([]);
  });

  it('advances the Lamport clock past everything seen', () => {
    expect(nextLamport([])).toBe(1);
    expect(nextLamport([node('a', [], 4, 1), node('b', [], 9, 1), node('c', [], 2, 1)])).toBe(10);
    expect(() => nextLamport([node('a', [], Number.MAX_SAFE_INTEGER, 1)])).toThrow(ProtocolError);
    expect(() => nextLamport([node('a', [], -1, 1)])).toThrow(UsageError);
  });
});

describe('DagFrontier', () => {
  it('answers as dagHeads, missingParents and nextLamport for random DAGs added in any order, with repeats', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const nodes = randomDag(1 + (seed % 30), seed);
      const next = seededInts(seed + 1000);
      const frontier = new DagFrontier();
      const added: DagNode[] = [];
      for (const n of shuffle(nodes, next)) {
        frontier.add(n);
        if (next(4) === 0) frontier.add(n); // a repeat changes nothing
        added.push(n);
        expect(frontier.heads().map(toHex)).toEqual(dagHeads(added).map(toHex));
        expect(frontier.missing().map(toHex)).toEqual(missingParents(added).map(toHex));
        expect(frontier.nextLamport()).toBe(nextLamport(added));
      }
      expect(frontier.size).toBe(nodes.length);
    }
  });

  it('counts a missing parent as named, an empty set as lamport 1, and refuses bad nodes', () => {
    const frontier = new DagFrontier();
    expect(frontier.heads()).toEqual([]);
    expect(frontier.nextLamport()).toBe(1);
    frontier.add(node('b', ['a'], 2, 1));
    frontier.add(node('c', ['a'], 2, 1));
    expect(labels(frontier.heads().map((i) => ({ id: i, parents: [], lamport: 0, ts: 0 })))).toEqual([
      'b',
      'c',
    ]);
    expect(frontier.missing().map(toHex)).toEqual([toHex(id('a'))]);
    frontier.add(node('a', [], 1, 1)); // arrives late: named already, never a head
    expect(frontier.missing()).toEqual([]);
    expect(frontier.heads().map(toHex)).toEqual(
      dagHeads([node('a', [], 1, 1), node('b', ['a'], 2, 1), node('c', ['a'], 2, 1)]).map(toHex),
    );
    expect(frontier.has(id('a'))).toBe(true);
    expect(() => frontier.add({ ...node('d', [], -1, 1) })).toThrow(UsageError);
    expect(() => frontier.add({ id: id('e'), lamport: 1, ts: 1 } as unknown as DagNode)).toThrow(UsageError);
    frontier.add(node('z', [], Number.MAX_SAFE_INTEGER, 1));
    expect(() => frontier.nextLamport()).toThrow(ProtocolError);
  });
});
