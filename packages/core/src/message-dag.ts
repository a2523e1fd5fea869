/**
 * Causal ordering of a conversation (DESIGN.md "Ordering"; seed 003: "use a directed
 * acyclic graph to sort messages first, then use time"). Each message names as parents
 * the DAG heads its sender had seen. The order shown is a topological order (parents
 * before children) in which, among the messages whose present parents are all placed,
 * the smallest (Lamport clock, sender timestamp, id bytes) goes first: Kahn's algorithm
 * with a priority queue, O((n + e) log n).
 *
 * A parent that is not in the set is ignored, so a lost message never stalls the ones
 * after it; `missingParents` lists such ids for a resend request. With hash ids a cycle
 * cannot be built, but a buggy or hostile input is still ordered: when nothing is ready,
 * the smallest unplaced node by the same tie order goes next, as if its unplaced parents
 * were missing. The result depends only on the set of nodes, never on the input order.
 */
import { compareBytes } from './bytes.ts';
import { ProtocolError, UsageError } from './errors.ts';

export interface DagNode {
  id: Uint8Array;
  parents: Uint8Array[];
  lamport: number;
  ts: number;
}

/** The tie order: Lamport clock, then timestamp, then id bytes (ids are distinct). */
function tieOrder(a: DagNode, b: DagNode): number {
  return a.lamport - b.lamport || a.ts - b.ts || compareBytes(a.id, b.id);
}

/**
 * A map key for an id: one UTF-16 unit per byte, distinct for distinct byte strings and
 * several times faster than hex on large conversations.
 */
function key(id: Uint8Array): string {
  if (id.length > 1024) throw new UsageError('DAG ids must be short');
  return String.fromCharCode.apply(null, id as unknown as number[]);
}

/** Node positions by id; a repeated id is a caller bug (a store keys messages by id). */
function indexById(nodes: readonly DagNode[]): Map<string, number> {
  if (!Array.isArray(nodes)) throw new UsageError('nodes must be an array');
  const index = new Map<string, number>();
  nodes.forEach((node, i) => {
    if (!(node?.id instanceof Uint8Array) || !Array.isArray(node.parents)) {
      throw new UsageError('a DAG node needs an id and parents');
    }
    const k = key(node.id);
    if (index.has(k)) throw new UsageError('DAG nodes repeat an id');
    index.set(k, i);
  });
  return index;
}

/** A binary min-heap of node positions under a comparison. */
class MinHeap {
  private readonly items: number[] = [];
  constructor(private readonly less: (a: number, b: number) => boolean) {}

  push(item: number): void {
    const items = this.items;
    let i = items.push(item) - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!this.less(items[i]!, items[up]!)) break;
      [items[i], items[up]] = [items[up]!, items[i]!];
      i = up;
    }
  }

  pop(): number | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && this.less(items[l]!, items[m]!)) m = l;
      if (r < items.length && this.less(items[r]!, items[m]!)) m = r;
      if (m === i) return top;
      [items[i], items[m]] = [items[m]!, items[i]!];
      i = m;
    }
  }
}

const WAITING = 0;
const QUEUED = 1;
const PLACED = 2;

/** Parents before children; ties by (lamport, ts, id). Returns the same node objects. */
export function causalOrder<T extends DagNode>(nodes: readonly T[]): T[] {
  const index = indexById(nodes);
  const n = nodes.length;
  const children: number[][] = Array.from({ length: n }, () => []);
  const waitingOn = new Uint32Array(n); // present parents not yet placed
  nodes.forEach((node, i) => {
    const seen = new Set<string>();
    for (const parent of node.parents) {
      const k = key(parent);
      if (seen.has(k)) continue;
      seen.add(k);
      const j = index.get(k);
      if (j === undefined) continue; // missing parent: ignored, never a stall
      children[j]!.push(i);
      waitingOn[i]!++;
    }
  });

  const less = (a: number, b: number): boolean => tieOrder(nodes[a]!, nodes[b]!) < 0;
  const state = new Uint8Array(n);
  const ready = new MinHeap(less);
  for (let i = 0; i < n; i++) {
    if (waitingOn[i] === 0) {
      state[i] = QUEUED;
      ready.push(i);
    }
  }

  let byTie: number[] | undefined; // built only if a cycle needs breaking
  let cursor = 0;
  const out: T[] = [];
  while (out.length < n) {
    let i = ready.pop();
    if (i === undefined) {
      // Cycle guard: nothing is ready, so every unplaced node waits on a cycle.
      byTie ??= Array.from({ length: n }, (_, k) => k).sort((a, b) => tieOrder(nodes[a]!, nodes[b]!));
      while (state[byTie[cursor]!] === PLACED) cursor++;
      i = byTie[cursor]!;
    }
    state[i] = PLACED;
    out.push(nodes[i]!);
    for (const c of children[i]!) {
      if (state[c] !== WAITING) continue;
      if (--waitingOn[c]! === 0) {
        state[c] = QUEUED;
        ready.push(c);
      }
    }
  }
  return out;
}

/** Parents named but absent, each once, sorted: what a resend request asks for. */
export function missingParents(nodes: readonly DagNode[]): Uint8Array[] {
  const index = indexById(nodes);
  const missing = new Map<string, Uint8Array>();
  for (const node of nodes) {
    for (const parent of node.parents) {
      const k = key(parent);
      if (!index.has(k) && !missing.has(k)) missing.set(k, parent.slice());
    }
  }
  return [...missing.values()].sort(compareBytes);
}

/** Ids no other node names as a parent, sorted: the parents of the next message. */
export function dagHeads(nodes: readonly DagNode[]): Uint8Array[] {
  indexById(nodes);
  const named = new Set<string>();
  for (const node of nodes) {
    const own = key(node.id);
    for (const parent of node.parents) {
      const k = key(parent);
      if (k !== own) named.add(k);
    }
  }
  return nodes
    .filter((node) => !named.has(key(node.id)))
    .map((node) => node.id.slice())
    .sort(compareBytes);
}

/**
 * The Lamport clock of the next message: one more than the largest seen (1 for an empty
 * conversation). ProtocolError if a clock has reached 2^53 - 1 and cannot grow.
 */
export function nextLamport(nodes: readonly DagNode[]): number {
  let max = 0;
  for (const node of nodes) {
    if (!Number.isSafeInteger(node.lamport) || node.lamport < 0)
      throw new UsageError('lamport must be an unsigned integer');
    if (node.lamport > max) max = node.lamport;
  }
  if (max >= Number.MAX_SAFE_INTEGER) throw new ProtocolError('Lamport clock exhausted');
  return max + 1;
}

/**
 * The heads, the missing parents and the next Lamport clock of a growing set of nodes, kept
 * as nodes are added, so that neither a sender nor a receiver reads its whole conversation to
 * take one message. Answers what `dagHeads`, `missingParents` and `nextLamport` answer for the
 * same set of nodes, in any order of adding; adding an id again changes nothing (ids are
 * hashes of their content, parents included).
 */
export class DagFrontier {
  private readonly ids = new Set<string>();
  /** Ids some added node names as a parent (present or not). */
  private readonly named = new Set<string>();
  private readonly heads_ = new Map<string, Uint8Array>();
  /** Ids some added node names as a parent and that were not added themselves. */
  private readonly missing_ = new Map<string, Uint8Array>();
  private maxLamport = 0;

  get size(): number {
    return this.ids.size;
  }

  has(id: Uint8Array): boolean {
    return this.ids.has(key(id));
  }

  add(node: DagNode): void {
    if (!(node?.id instanceof Uint8Array) || !Array.isArray(node.parents))
      throw new UsageError('a DAG node needs an id and parents');
    if (!Number.isSafeInteger(node.lamport) || node.lamport < 0)
      throw new UsageError('lamport must be an unsigned integer');
    const own = key(node.id);
    if (this.ids.has(own)) return;
    this.ids.add(own);
    this.missing_.delete(own);
    for (const parent of node.parents) {
      const k = key(parent);
      if (k === own) continue;
      this.named.add(k);
      this.heads_.delete(k);
      if (!this.ids.has(k) && !this.missing_.has(k)) this.missing_.set(k, parent.slice());
    }
    if (!this.named.has(own)) this.heads_.set(own, node.id.slice());
    if (node.lamport > this.maxLamport) this.maxLamport = node.lamport;
  }

  /** As `dagHeads` of the added nodes. */
  heads(): Uint8Array[] {
    return [...this.heads_.values()].map((id) => id.slice()).sort(compareBytes);
  }

  /** As `missingParents` of the added nodes. */
  missing(): Uint8Array[] {
    return [...this.missing_.values()].map((id) => id.slice()).sort(compareBytes);
  }

  /** As `nextLamport` of the added nodes. */
  nextLamport(): number {
    if (this.maxLamport >= Number.MAX_SAFE_INTEGER) throw new ProtocolError('Lamport clock exhausted');
    return this.maxLamport + 1;
  }
}
