/**
 * The topology rules every relay applies to the link graph it shares with the cloud
 * (DESIGN.md "Relays and the network", docs/decisions/0032):
 *
 * - join: a relay without links links to min(3, members) members, the ones with the fewest
 *   links first (ties broken by a hash of both ids, so joiners spread out). Links to two or
 *   more members of a bridgeless graph keep it bridgeless.
 * - repair (`planRepair`): the links to add so that the graph of relays that have links is
 *   connected, has no bridge and every relay has min(3, n - 1) links; each planned link names
 *   the one relay that dials it. Every relay computes the same plan from the same database,
 *   so exactly one relay reacts to each fault; the rule only ever adds links, so the cloud
 *   does not oscillate.
 */
import { UsageError } from '../errors.ts';
import {
  byId,
  components,
  degree,
  findBridges,
  graphOfLinks,
  linkKey,
  type MeshGraph,
} from './mesh-graph.ts';
import type { RelayId } from './relay-descriptor.ts';

/** Links each relay keeps (seed 000: "at least 3 servers"), fewer only in a smaller cloud. */
export const MESH_MIN_DEGREE = 3;

export interface PlannedLink {
  /** The relay that dials the link. */
  from: RelayId;
  to: RelayId;
  /** Which fault it repairs: a split cloud, too few links, or a bridge. */
  reason: 'partition' | 'degree' | 'bridge';
}

/** The degree every relay should have in a cloud of `relays`. */
export function targetDegree(relays: number): number {
  return Math.max(0, Math.min(MESH_MIN_DEGREE, relays - 1));
}

/** FNV-1a (32 bits) of "a|b": a cheap, stable tie-break that spreads choices, not a secret. */
export function pairRank(a: RelayId, b: RelayId): number {
  let h = 0x811c9dc5;
  const text = `${a}|${b}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Relays that have at least one two-way link: the cloud as the rules see it. */
export function linkedRelays(graph: MeshGraph): RelayId[] {
  return graph.nodes.filter((n) => degree(graph, n) > 0);
}

/** A mutable copy of the graph restricted to `nodes`. */
function workingCopy(graph: MeshGraph, nodes: readonly RelayId[]): Map<RelayId, Set<RelayId>> {
  const keep = new Set(nodes);
  const adj = new Map<RelayId, Set<RelayId>>();
  for (const n of nodes) {
    adj.set(n, new Set([...(graph.edges.get(n)?.keys() ?? [])].filter((m) => keep.has(m))));
  }
  return adj;
}

function asGraph(adj: Map<RelayId, Set<RelayId>>): MeshGraph {
  const links: Array<{ a: RelayId; b: RelayId }> = [];
  for (const [a, ns] of adj) for (const b of ns) if (a < b) links.push({ a, b });
  return graphOfLinks(adj.keys(), links);
}

/** The best of `candidates` for `self` to link to: fewest links, then the pair rank, then id. */
function bestPeer(
  self: RelayId,
  candidates: Iterable<RelayId>,
  adj: ReadonlyMap<RelayId, ReadonlySet<RelayId>>,
): RelayId | undefined {
  let best: RelayId | undefined;
  let bestKey: [number, number, RelayId] | undefined;
  for (const c of candidates) {
    if (c === self || adj.get(self)?.has(c)) continue;
    const key: [number, number, RelayId] = [adj.get(c)?.size ?? 0, pairRank(self, c), c];
    if (
      !bestKey ||
      key[0] < bestKey[0] ||
      (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])))
    ) {
      best = c;
      bestKey = key;
    }
  }
  return best;
}

/**
 * The relays a relay without links (`joiner`) links to: min(3, members) of the relays that
 * have links (or, in a cloud of one, that one), fewest links first.
 */
export function joinLinks(graph: MeshGraph, joiner: RelayId): RelayId[] {
  let members = linkedRelays(graph).filter((n) => n !== joiner);
  if (members.length === 0) members = graph.nodes.filter((n) => n !== joiner);
  const adj = workingCopy(graph, members);
  adj.set(joiner, new Set());
  const chosen: RelayId[] = [];
  const want = Math.min(MESH_MIN_DEGREE, members.length);
  while (chosen.length < want) {
    const peer = bestPeer(joiner, members, adj)!;
    chosen.push(peer);
    adj.get(joiner)!.add(peer);
    adj.get(peer)!.add(joiner);
  }
  return chosen;
}

const MAX_PLAN_ROUNDS = 64;

/**
 * The links to add so that the relays with links form a connected, bridgeless graph in which
 * each has min(3, n - 1) links. In order: join split parts (the smallest id of each part to the
 * smallest of the next, dialled by the first); give each relay short of links (in id order)
 * links to the relays with the fewest; then, while bridges remain, pair the leaves of the
 * bridge tree (the 2-edge-connected parts joined by bridges) in depth-first order, leaf i with
 * leaf i + ⌊m/2⌋ (Eswaran and Tarjan 1976), each link dialled by its smaller id.
 */
export function planRepair(graph: MeshGraph): PlannedLink[] {
  const nodes = linkedRelays(graph);
  if (nodes.length < 2) return [];
  const adj = workingCopy(graph, nodes);
  const plan: PlannedLink[] = [];
  const add = (from: RelayId, to: RelayId, reason: PlannedLink['reason']): void => {
    if (from === to || adj.get(from)!.has(to)) throw new UsageError('planned a link that exists');
    adj.get(from)!.add(to);
    adj.get(to)!.add(from);
    plan.push({ from, to, reason });
  };

  const parts = components(asGraph(adj));
  for (let i = 1; i < parts.length; i++) add(parts[i - 1]![0]!, parts[i]![0]!, 'partition');

  const want = targetDegree(nodes.length);
  for (const n of nodes) {
    while (adj.get(n)!.size < want) add(n, bestPeer(n, nodes, adj)!, 'degree');
  }

  for (let round = 0; round < MAX_PLAN_ROUNDS; round++) {
    const g = asGraph(adj);
    const bridges = findBridges(g);
    if (bridges.length === 0) break;
    const pairs = leafPairs(g, bridges, adj);
    if (pairs.length === 0) break; // two relays and one link: nothing can remove that bridge
    for (const [a, b] of pairs) add(a < b ? a : b, a < b ? b : a, 'bridge');
  }
  return plan;
}

/** The links `self` must dial now: its part of the plan. */
export function linksToDial(graph: MeshGraph, self: RelayId): RelayId[] {
  return planRepair(graph)
    .filter((l) => l.from === self)
    .map((l) => l.to);
}

/** Pairs of relays to link, one in each of two leaves of the bridge tree. */
function leafPairs(
  g: MeshGraph,
  bridges: ReadonlyArray<[RelayId, RelayId]>,
  adj: ReadonlyMap<RelayId, ReadonlySet<RelayId>>,
): Array<[RelayId, RelayId]> {
  const bridgeKeys = new Set(bridges.map(([a, b]) => linkKey(a, b)));
  const parts = components(g, bridgeKeys);
  const partOf = new Map<RelayId, number>();
  parts.forEach((p, i) => p.forEach((n) => partOf.set(n, i)));
  const tree = parts.map(() => new Set<number>());
  for (const [a, b] of bridges) {
    tree[partOf.get(a)!]!.add(partOf.get(b)!);
    tree[partOf.get(b)!]!.add(partOf.get(a)!);
  }
  // Leaves in depth-first order from part 0 (the one holding the smallest id), children by id.
  const leaves: number[] = [];
  const seen = new Set<number>([0]);
  const stack = [0];
  while (stack.length > 0) {
    const p = stack.pop()!;
    if (tree[p]!.size <= 1) leaves.push(p);
    const children = [...tree[p]!]
      .filter((c) => !seen.has(c))
      .sort((x, y) => byId(parts[y]![0]!, parts[x]![0]!));
    for (const c of children) {
      seen.add(c);
      stack.push(c);
    }
  }
  const m = leaves.length;
  const pairs: Array<[RelayId, RelayId]> = [];
  const used = new Set<string>();
  for (let i = 0; i < Math.ceil(m / 2) && m >= 2; i++) {
    const j = i + Math.floor(m / 2);
    if (j >= m || j === i) continue;
    const pair = closestPair(parts[leaves[i]!]!, parts[leaves[j]!]!, adj);
    if (pair && !used.has(linkKey(pair[0], pair[1]))) {
      used.add(linkKey(pair[0], pair[1]));
      pairs.push(pair);
    }
  }
  return pairs;
}

/** Of two parts, the pair with the fewest links (then smallest ids) not linked already. */
function closestPair(
  a: readonly RelayId[],
  b: readonly RelayId[],
  adj: ReadonlyMap<RelayId, ReadonlySet<RelayId>>,
): [RelayId, RelayId] | undefined {
  const order = (xs: readonly RelayId[]): RelayId[] =>
    [...xs].sort((x, y) => adj.get(x)!.size - adj.get(y)!.size || byId(x, y));
  for (const x of order(a)) for (const y of order(b)) if (!adj.get(x)!.has(y)) return [x, y];
  return undefined;
}
