/**
 * The relay link graph and the algorithms the mesh runs on it: bridges (Tarjan), 2-edge-
 * connectivity, minimum degree, shortest paths (Dijkstra) and the next-hop table. Pure
 * functions of the graph, so every relay with the same link-state database gets the same
 * answers (docs/decisions/0032).
 *
 * The graph is undirected: a link counts only when both ends advertise it (RFC 2328 §16.1 (2)(b),
 * the two-way check), with the larger of the two advertised costs.
 */
import { UsageError } from '../errors.ts';
import type { RelayId } from './relay-descriptor.ts';

export interface MeshGraph {
  /** Every relay, sorted (code-unit order, the tie-break order of every rule here). */
  readonly nodes: readonly RelayId[];
  /** Each relay's neighbours and the cost of the link to them (symmetric). */
  readonly edges: ReadonlyMap<RelayId, ReadonlyMap<RelayId, number>>;
}

/** One relay's view of its own links, as its advert lists them. */
export interface AdvertisedLinks {
  origin: RelayId;
  links: ReadonlyArray<{ to: RelayId; cost: number }>;
}

export const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The graph of two-way links among `adverts` (a link one end alone lists is left out). */
export function meshGraph(adverts: Iterable<AdvertisedLinks>): MeshGraph {
  const said = new Map<RelayId, Map<RelayId, number>>();
  for (const a of adverts) {
    const links = new Map<RelayId, number>();
    for (const l of a.links) if (l.to !== a.origin) links.set(l.to, l.cost);
    said.set(a.origin, links);
  }
  const edges = new Map<RelayId, Map<RelayId, number>>();
  for (const origin of said.keys()) edges.set(origin, new Map());
  for (const [a, links] of said) {
    for (const [b, cost] of links) {
      const back = said.get(b)?.get(a);
      if (back === undefined) continue;
      edges.get(a)!.set(b, Math.max(cost, back));
    }
  }
  return { nodes: [...said.keys()].sort(byId), edges };
}

/** A graph from explicit undirected links (tests, simulations, plans applied ahead of time). */
export function graphOfLinks(
  nodes: Iterable<RelayId>,
  links: Iterable<{ a: RelayId; b: RelayId; cost?: number }>,
): MeshGraph {
  const edges = new Map<RelayId, Map<RelayId, number>>();
  for (const n of nodes) edges.set(n, new Map());
  for (const { a, b, cost = 1 } of links) {
    if (a === b) throw new UsageError('a link joins two different relays');
    if (!edges.has(a)) edges.set(a, new Map());
    if (!edges.has(b)) edges.set(b, new Map());
    edges.get(a)!.set(b, cost);
    edges.get(b)!.set(a, cost);
  }
  return { nodes: [...edges.keys()].sort(byId), edges };
}

export function degree(graph: MeshGraph, node: RelayId): number {
  return graph.edges.get(node)?.size ?? 0;
}

/** The smallest degree among `nodes` (all of the graph's by default); 0 for no nodes. */
export function minDegree(graph: MeshGraph, nodes: readonly RelayId[] = graph.nodes): number {
  let min = Infinity;
  for (const n of nodes) min = Math.min(min, degree(graph, n));
  return min === Infinity ? 0 : min;
}

/** Sorted neighbour lists, so every traversal visits in the same order. */
function sortedAdjacency(graph: MeshGraph): Map<RelayId, RelayId[]> {
  const adj = new Map<RelayId, RelayId[]>();
  for (const n of graph.nodes) adj.set(n, [...(graph.edges.get(n)?.keys() ?? [])].sort(byId));
  return adj;
}

/**
 * The bridges of the graph: links whose loss disconnects it (Tarjan 1974, low-link numbers
 * from one depth-first search, O(V + E)). Iterative, so a long chain does not overflow the
 * stack. Each bridge as [a, b] with a < b, sorted.
 */
export function findBridges(graph: MeshGraph): Array<[RelayId, RelayId]> {
  const adj = sortedAdjacency(graph);
  const order = new Map<RelayId, number>();
  const low = new Map<RelayId, number>();
  const bridges: Array<[RelayId, RelayId]> = [];
  let counter = 0;
  for (const root of graph.nodes) {
    if (order.has(root)) continue;
    // Frames: node, its parent, the index of the next neighbour to look at.
    const stack: Array<{ node: RelayId; parent: RelayId | undefined; next: number }> = [
      { node: root, parent: undefined, next: 0 },
    ];
    order.set(root, counter);
    low.set(root, counter++);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const neighbours = adj.get(top.node)!;
      if (top.next < neighbours.length) {
        const next = neighbours[top.next++]!;
        if (next === top.parent) continue; // simple graph: the one link back to the parent
        const seen = order.get(next);
        if (seen === undefined) {
          order.set(next, counter);
          low.set(next, counter++);
          stack.push({ node: next, parent: top.node, next: 0 });
        } else {
          low.set(top.node, Math.min(low.get(top.node)!, seen));
        }
        continue;
      }
      stack.pop();
      if (top.parent !== undefined) {
        const parentLow = low.get(top.parent)!;
        const childLow = low.get(top.node)!;
        low.set(top.parent, Math.min(parentLow, childLow));
        if (childLow > order.get(top.parent)!) {
          bridges.push(top.parent < top.node ? [top.parent, top.node] : [top.node, top.parent]);
        }
      }
    }
  }
  return bridges.sort((x, y) => byId(x[0], y[0]) || byId(x[1], y[1]));
}

/** The connected components, each sorted, ordered by their smallest id. */
export function components(graph: MeshGraph, without?: ReadonlySet<string>): RelayId[][] {
  const seen = new Set<RelayId>();
  const out: RelayId[][] = [];
  for (const start of graph.nodes) {
    if (seen.has(start)) continue;
    const part: RelayId[] = [];
    const queue = [start];
    seen.add(start);
    while (queue.length > 0) {
      const n = queue.pop()!;
      part.push(n);
      for (const m of graph.edges.get(n)?.keys() ?? []) {
        if (seen.has(m) || without?.has(linkKey(n, m))) continue;
        seen.add(m);
        queue.push(m);
      }
    }
    out.push(part.sort(byId));
  }
  return out.sort((x, y) => byId(x[0]!, y[0]!));
}

/** The key of an undirected link, smaller id first. */
export function linkKey(a: RelayId, b: RelayId): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}

export function isConnected(graph: MeshGraph): boolean {
  return components(graph).length <= 1;
}

/** Connected with no bridge (2-edge-connected). A graph of one relay, or none, counts as such. */
export function isTwoEdgeConnected(graph: MeshGraph): boolean {
  return isConnected(graph) && findBridges(graph).length === 0;
}

export interface ShortestPaths {
  source: RelayId;
  /** Cost of the shortest path to each reachable relay (the source: 0). */
  dist: Map<RelayId, number>;
  /** The relay before each reachable one on its chosen shortest path. */
  parent: Map<RelayId, RelayId>;
}

/** A binary heap of [cost, id], smallest cost first, then smallest id. */
class Heap {
  private readonly items: Array<[number, RelayId]> = [];
  get size(): number {
    return this.items.length;
  }
  private less(i: number, j: number): boolean {
    const a = this.items[i]!;
    const b = this.items[j]!;
    return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  }
  private swap(i: number, j: number): void {
    const t = this.items[i]!;
    this.items[i] = this.items[j]!;
    this.items[j] = t;
  }
  push(item: [number, RelayId]): void {
    this.items.push(item);
    let i = this.items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, RelayId] {
    const top = this.items[0]!;
    const last = this.items.pop()!;
    if (this.items.length > 0) {
      this.items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.items.length && this.less(l, m)) m = l;
        if (r < this.items.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/**
 * Dijkstra from `source` (RFC 2328 §16.1 computes the same tree). Among equal-cost paths the
 * parent is the smallest id of the neighbours that lie on a shortest path, so the tree, and
 * every route drawn from it, depends on the graph alone.
 */
export function shortestPaths(graph: MeshGraph, source: RelayId): ShortestPaths {
  if (!graph.edges.has(source)) throw new UsageError('source is not in the graph');
  const dist = new Map<RelayId, number>([[source, 0]]);
  const parent = new Map<RelayId, RelayId>();
  const done = new Set<RelayId>();
  const heap = new Heap();
  heap.push([0, source]);
  while (heap.size > 0) {
    const [d, n] = heap.pop();
    if (done.has(n)) continue;
    done.add(n);
    for (const [m, cost] of graph.edges.get(n) ?? []) {
      const through = d + cost;
      const known = dist.get(m);
      if (known === undefined || through < known) {
        dist.set(m, through);
        parent.set(m, n);
        heap.push([through, m]);
      } else if (through === known && !done.has(m) && n < parent.get(m)!) {
        parent.set(m, n);
      }
    }
  }
  return { source, dist, parent };
}

export interface Route {
  /** The neighbour to hand a message for this relay to. */
  nextHop: RelayId;
  /** Total cost of the path. */
  cost: number;
  /** Links on the path. */
  hops: number;
}

/** Where `self` sends traffic for each relay it can reach (itself left out). */
export function nextHopTable(graph: MeshGraph, self: RelayId): Map<RelayId, Route> {
  const { dist, parent } = shortestPaths(graph, self);
  const table = new Map<RelayId, Route>();
  // Nodes in order of distance, so each parent's route is known before its children's.
  const byDistance = [...dist.keys()]
    .filter((n) => n !== self)
    .sort((a, b) => dist.get(a)! - dist.get(b)! || byId(a, b));
  for (const n of byDistance) {
    const p = parent.get(n)!;
    const up = p === self ? undefined : table.get(p)!;
    table.set(n, { nextHop: up ? up.nextHop : n, cost: dist.get(n)!, hops: up ? up.hops + 1 : 1 });
  }
  return table;
}
