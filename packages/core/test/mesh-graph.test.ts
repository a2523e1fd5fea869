import { describe, expect, it } from 'vitest';
import {
  components,
  findBridges,
  graphOfLinks,
  isConnected,
  isTwoEdgeConnected,
  linkKey,
  minDegree,
  nextHopTable,
  shortestPaths,
  type MeshGraph,
} from '../src/mesh/mesh-graph.ts';
import { seededInts } from './contact-test-helpers.ts';

type Link = { a: string; b: string; cost: number };

function randomGraph(
  seed: number,
  n: number,
  extra: number,
  maxCost = 9,
): { nodes: string[]; links: Link[] } {
  const next = seededInts(seed);
  const nodes = Array.from({ length: n }, (_, i) => `r${String(i).padStart(3, '0')}`);
  const links = new Map<string, Link>();
  // A random tree (so mostly connected), then random extra links.
  for (let i = 1; i < n; i++) {
    const j = next(i);
    links.set(linkKey(nodes[i]!, nodes[j]!), { a: nodes[i]!, b: nodes[j]!, cost: 1 + next(maxCost) });
  }
  for (let k = 0; k < extra; k++) {
    const i = next(n);
    const j = next(n);
    if (i !== j)
      links.set(linkKey(nodes[i]!, nodes[j]!), { a: nodes[i]!, b: nodes[j]!, cost: 1 + next(maxCost) });
  }
  return { nodes, links: [...links.values()] };
}

/** Bridges by definition: links whose removal adds a component. */
function bridgesByRemoval(nodes: string[], links: Link[]): string[] {
  const base = components(graphOfLinks(nodes, links)).length;
  return links
    .filter(
      (l) =>
        components(
          graphOfLinks(
            nodes,
            links.filter((m) => m !== l),
          ),
        ).length > base,
    )
    .map((l) => linkKey(l.a, l.b))
    .sort();
}

/** All-pairs shortest costs by Floyd–Warshall. */
function floyd(g: MeshGraph): Map<string, Map<string, number>> {
  const d = new Map(g.nodes.map((a) => [a, new Map(g.nodes.map((b) => [b, a === b ? 0 : Infinity]))]));
  for (const [a, ns] of g.edges) for (const [b, c] of ns) d.get(a)!.set(b, c);
  for (const k of g.nodes)
    for (const i of g.nodes)
      for (const j of g.nodes) {
        const via = d.get(i)!.get(k)! + d.get(k)!.get(j)!;
        if (via < d.get(i)!.get(j)!) d.get(i)!.set(j, via);
      }
  return d;
}

describe('mesh graph', () => {
  it('finds the bridges of known graphs', () => {
    // Two triangles joined by one link: that link is the bridge.
    const g = graphOfLinks(
      [],
      [
        { a: 'a', b: 'b' },
        { a: 'b', b: 'c' },
        { a: 'c', b: 'a' },
        { a: 'c', b: 'd' },
        { a: 'd', b: 'e' },
        { a: 'e', b: 'f' },
        { a: 'f', b: 'd' },
      ],
    );
    expect(findBridges(g)).toEqual([['c', 'd']]);
    expect(isTwoEdgeConnected(g)).toBe(false);
    const path = graphOfLinks(
      [],
      [
        { a: 'x', b: 'y' },
        { a: 'y', b: 'z' },
      ],
    );
    expect(findBridges(path)).toEqual([
      ['x', 'y'],
      ['y', 'z'],
    ]);
    const ring = graphOfLinks(
      [],
      ['a', 'b', 'c', 'd'].map((a, i, r) => ({ a, b: r[(i + 1) % 4]! })),
    );
    expect(findBridges(ring)).toEqual([]);
    expect(isTwoEdgeConnected(ring)).toBe(true);
    expect(minDegree(ring)).toBe(2);
    expect(isTwoEdgeConnected(graphOfLinks(['p', 'q'], []))).toBe(false); // not connected
    expect(isTwoEdgeConnected(graphOfLinks(['p'], []))).toBe(true);
  });

  it('agrees with bridges found by removing each link, on random graphs', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const { nodes, links } = randomGraph(seed, 5 + (seed % 25), seed % 30);
      const found = findBridges(graphOfLinks(nodes, links)).map(([a, b]) => linkKey(a, b));
      expect(found.sort(), `seed ${seed}`).toEqual(bridgesByRemoval(nodes, links));
    }
  });

  it('finds bridges on a long chain without running out of stack', () => {
    const n = 50_000;
    const links = Array.from({ length: n - 1 }, (_, i) => ({ a: `n${i}`, b: `n${i + 1}` }));
    expect(findBridges(graphOfLinks([], links))).toHaveLength(n - 1);
  });

  it('computes shortest paths equal to Floyd–Warshall, and next hops that walk them', () => {
    const wrong: string[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const { nodes, links } = randomGraph(seed * 7, 30, 40);
      const g = graphOfLinks(nodes, links);
      const all = floyd(g);
      const tables = new Map(nodes.map((n) => [n, nextHopTable(g, n)]));
      for (const s of nodes) {
        const { dist } = shortestPaths(g, s);
        for (const t of nodes) {
          const want = all.get(s)!.get(t)!;
          if ((dist.get(t) ?? Infinity) !== want) wrong.push(`seed ${seed}: dist ${s}→${t}`);
          if (s === t || want === Infinity) continue;
          if (tables.get(s)!.get(t)?.cost !== want) wrong.push(`seed ${seed}: table cost ${s}→${t}`);
          // Follow the next hops relay by relay: the walk's cost is the shortest.
          let at = s;
          let cost = 0;
          for (let steps = 0; at !== t && steps <= nodes.length; steps++) {
            const hop = tables.get(at)!.get(t)!.nextHop;
            cost += g.edges.get(at)!.get(hop)!;
            at = hop;
          }
          if (at !== t || cost !== want)
            wrong.push(`seed ${seed}: walk ${s}→${t} costs ${cost}, not ${want}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('breaks ties the same way whatever order the links came in', () => {
    // A square with equal costs: two shortest paths from a to c.
    const links = [
      { a: 'a', b: 'b', cost: 1 },
      { a: 'b', b: 'c', cost: 1 },
      { a: 'c', b: 'd', cost: 1 },
      { a: 'd', b: 'a', cost: 1 },
    ];
    const one = nextHopTable(graphOfLinks([], links), 'a');
    const other = nextHopTable(graphOfLinks(['d', 'c', 'b', 'a'], [...links].reverse()), 'a');
    expect(one.get('c')).toEqual({ nextHop: 'b', cost: 2, hops: 2 });
    expect(other).toEqual(one);
  });

  it('reports connectivity and leaves unreachable relays out of the table', () => {
    const g = graphOfLinks(['lone'], [{ a: 'a', b: 'b' }]);
    expect(isConnected(g)).toBe(false);
    expect(components(g)).toEqual([['a', 'b'], ['lone']]);
    expect([...nextHopTable(g, 'a').keys()]).toEqual(['b']);
  });
});
