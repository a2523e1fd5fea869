import { describe, expect, it } from 'vitest';
import {
  degree,
  findBridges,
  graphOfLinks,
  isTwoEdgeConnected,
  linkKey,
  minDegree,
  type MeshGraph,
} from '../src/mesh/mesh-graph.ts';
import {
  joinLinks,
  linksToDial,
  planRepair,
  targetDegree,
  type PlannedLink,
} from '../src/mesh/mesh-topology.ts';
import { seededInts } from './contact-test-helpers.ts';

type Link = { a: string; b: string };

const name = (i: number): string => `r${String(i).padStart(3, '0')}`;

function withPlan(g: MeshGraph, plan: PlannedLink[]): MeshGraph {
  const links: Link[] = [];
  for (const [a, ns] of g.edges) for (const b of ns.keys()) if (a < b) links.push({ a, b });
  return graphOfLinks(g.nodes, [...links, ...plan.map((l) => ({ a: l.from, b: l.to }))]);
}

/** Grows a cloud relay by relay with the join rule alone. */
function grow(n: number): MeshGraph {
  let g = graphOfLinks([name(0)], []);
  for (let i = 1; i < n; i++) {
    const joiner = name(i);
    const to = joinLinks(g, joiner);
    const links: Link[] = [];
    for (const [a, ns] of g.edges) for (const b of ns.keys()) if (a < b) links.push({ a, b });
    g = graphOfLinks([...g.nodes, joiner], [...links, ...to.map((b) => ({ a: joiner, b }))]);
  }
  return g;
}

function linked(g: MeshGraph): string[] {
  return g.nodes.filter((n) => degree(g, n) > 0);
}

describe('mesh topology rules', () => {
  it('joining keeps the cloud bridgeless with at least 3 links each from 4 relays on', () => {
    for (const n of [1, 2, 3, 4, 5, 10, 60]) {
      const g = grow(n);
      expect(isTwoEdgeConnected(g), `${n} relays`).toBe(n !== 2);
      expect(minDegree(g)).toBe(targetDegree(n));
      expect(planRepair(g), `nothing to repair at ${n}`).toEqual([]);
    }
  });

  it('spreads joiners over the relays with the fewest links', () => {
    const g = grow(40);
    const degrees = g.nodes.map((n) => degree(g, n));
    expect(Math.max(...degrees)).toBeLessThanOrEqual(6);
  });

  it('repairs random faults: connected, bridgeless, min degree; one dialler per link; then stable', () => {
    const next = seededInts(32);
    for (let trial = 0; trial < 80; trial++) {
      let g = grow(5 + next(40));
      // Remove a few random links or relays.
      const links: Link[] = [];
      for (const [a, ns] of g.edges) for (const b of ns.keys()) if (a < b) links.push({ a, b });
      const dead = new Set<string>();
      const cut = new Set<string>();
      for (let k = 1 + next(4); k > 0; k--) {
        if (next(2) === 0) dead.add(g.nodes[next(g.nodes.length)]!);
        else {
          const l = links[next(links.length)]!;
          cut.add(linkKey(l.a, l.b));
        }
      }
      g = graphOfLinks(
        g.nodes.filter((n) => !dead.has(n)),
        links.filter((l) => !dead.has(l.a) && !dead.has(l.b) && !cut.has(linkKey(l.a, l.b))),
      );
      const plan = planRepair(g);
      const keys = plan.map((l) => linkKey(l.from, l.to));
      expect(new Set(keys).size, 'each planned link once').toBe(keys.length);
      for (const l of plan) expect(g.edges.get(l.from)?.has(l.to)).toBe(false);
      const repaired = withPlan(g, plan);
      const alive = graphOfLinks(
        linked(g),
        [...repaired.edges].flatMap(([a, ns]) => [...ns.keys()].filter((b) => a < b).map((b) => ({ a, b }))),
      );
      const n = linked(g).length;
      if (n >= 3) {
        expect(isTwoEdgeConnected(alive), `trial ${trial}: ${findBridges(alive).length} bridges`).toBe(true);
        expect(minDegree(alive)).toBeGreaterThanOrEqual(targetDegree(n));
      }
      expect(planRepair(repaired), `trial ${trial}: the repaired cloud needs nothing more`).toEqual([]);
      // Every relay computes the same plan and dials only its own part.
      const dialled = g.nodes.flatMap((me) => linksToDial(g, me).map((to) => linkKey(me, to)));
      expect(dialled.sort()).toEqual([...keys].sort());
    }
  });

  it('names the link that removes a bridge, dialled by its smaller id', () => {
    // Two rings of four joined by one link (a bridge); every relay has 2 or 3 links.
    const ring = (p: string): Link[] => [0, 1, 2, 3].map((i) => ({ a: `${p}${i}`, b: `${p}${(i + 1) % 4}` }));
    const g = graphOfLinks([], [...ring('a'), ...ring('b'), { a: 'a0', b: 'b0' }]);
    const plan = planRepair(g);
    expect(plan.every((l) => l.reason === 'degree')).toBe(true);
    const fixed = withPlan(g, plan);
    expect(isTwoEdgeConnected(fixed)).toBe(true);
    // With three links each already, only the bridge is left to repair.
    const k4 = (p: string): Link[] =>
      ['0', '1', '2', '3'].flatMap((i, x, all) =>
        all.slice(x + 1).map((j) => ({ a: `${p}${i}`, b: `${p}${j}` })),
      );
    const bridged = graphOfLinks([], [...k4('a'), ...k4('b'), { a: 'a0', b: 'b0' }]);
    const one = planRepair(bridged);
    expect(one).toHaveLength(1);
    expect(one[0]!.reason).toBe('bridge');
    expect(one[0]!.from < one[0]!.to).toBe(true);
    expect(isTwoEdgeConnected(withPlan(bridged, one))).toBe(true);
  });

  it('joins the parts of a split cloud', () => {
    const k4 = (p: string): Link[] =>
      ['0', '1', '2', '3'].flatMap((i, x, all) =>
        all.slice(x + 1).map((j) => ({ a: `${p}${i}`, b: `${p}${j}` })),
      );
    const g = graphOfLinks([], [...k4('a'), ...k4('b')]);
    const plan = planRepair(g);
    expect(plan[0]).toEqual({ from: 'a0', to: 'b0', reason: 'partition' });
    expect(isTwoEdgeConnected(withPlan(g, plan))).toBe(true);
  });

  it('leaves relays without links out of the plan; they join by the join rule', () => {
    const g = graphOfLinks(
      ['lone'],
      grow(6).nodes.flatMap(() => []),
    );
    expect(planRepair(g)).toEqual([]);
    const cloud = grow(6);
    const withLone = graphOfLinks(
      [...cloud.nodes, 'zzz'],
      [...cloud.edges].flatMap(([a, ns]) => [...ns.keys()].filter((b) => a < b).map((b) => ({ a, b }))),
    );
    expect(planRepair(withLone)).toEqual([]);
    expect(joinLinks(withLone, 'zzz')).toHaveLength(3);
    expect(joinLinks(graphOfLinks(['only', 'new'], []), 'new')).toEqual(['only']);
  });
});
