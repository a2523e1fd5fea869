/**
 * The relay mesh simulated (mesh-simulator.ts: the real core code per relay, adverts encoded,
 * flooded hop by hop over in-process links): 50 relays built by joins through message passing,
 * then random joins, leaves, crashes and link failures; 200 relays likewise from a starting
 * cloud. After every step, once the cloud has settled (flooded, then repaired by the rule):
 * bridgeless, every relay has min(3, n - 1) links, every relay's database agrees and matches the
 * real links, and every pair of relays is routable, hop by hop through each relay's own table,
 * along a shortest path (checked against Floyd–Warshall on the real links).
 *
 * The simulated relays share one CheckedAdvertCache, so each advert is read and its signatures
 * checked once in the process rather than once per relay (mesh-link-state-db.test.ts checks
 * refusals, with and without it).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initCrypto } from '../src/crypto.ts';
import { CheckedAdvertCache } from '../src/mesh/link-state-db.ts';
import { findBridges, isConnected, minDegree, type MeshGraph } from '../src/mesh/mesh-graph.ts';
import { targetDegree } from '../src/mesh/mesh-topology.ts';
import { MeshSimulator, type SimRelay } from './mesh-simulator.ts';

beforeAll(async () => {
  await initCrypto();
});

/** All-pairs shortest costs on the real links (Floyd–Warshall), independent of the code under test. */
function allPairs(g: MeshGraph): { index: Map<string, number>; d: Float64Array } {
  const n = g.nodes.length;
  const index = new Map(g.nodes.map((id, i) => [id, i]));
  const d = new Float64Array(n * n).fill(Infinity);
  for (let i = 0; i < n; i++) d[i * n + i] = 0;
  for (const [a, ns] of g.edges) for (const [b, c] of ns) d[index.get(a)! * n + index.get(b)!] = c;
  for (let k = 0; k < n; k++)
    for (let i = 0; i < n; i++) {
      const ik = d[i * n + k]!;
      if (ik === Infinity) continue;
      for (let j = 0; j < n; j++) {
        const via = ik + d[k * n + j]!;
        if (via < d[i * n + j]!) d[i * n + j] = via;
      }
    }
  return { index, d };
}

function check(sim: MeshSimulator, step: string): void {
  const live = sim.live();
  const g = sim.trueGraph();
  const n = live.length;
  const where = `${step} (${n} relays)`;
  if (n >= 3) {
    expect(findBridges(g), `${where}: bridges`).toEqual([]);
    expect(isConnected(g), `${where}: connected`).toBe(true);
  }
  expect(minDegree(g), `${where}: min degree`).toBeGreaterThanOrEqual(targetDegree(n));
  // Every database agrees, and its graph among live relays is the real one.
  const digests = new Set(live.map((r) => r.db.digest()));
  expect(digests.size, `${where}: databases agree`).toBe(1);
  const believed = live[0]!.db.graph();
  for (const r of live) {
    expect(new Map([...(believed.edges.get(r.id) ?? [])]), `${where}: ${r.id}'s links as advertised`).toEqual(
      new Map([...g.edges.get(r.id)!]),
    );
  }
  // Routes: every pair, hop by hop through each relay's own table, at the shortest cost.
  const tables = sim.routeTables();
  const { index, d } = allPairs(g);
  const wrong: string[] = [];
  for (const s of live) {
    for (const t of live) {
      if (s === t) continue;
      const want = d[index.get(s.id)! * n + index.get(t.id)!]!;
      let at = s.id;
      let cost = 0;
      for (let hops = 0; at !== t.id && hops <= n; hops++) {
        const route = tables.get(at)!.get(t.id);
        if (!route) break;
        cost += g.edges.get(at)!.get(route.nextHop) ?? Infinity;
        at = route.nextHop;
      }
      if (at !== t.id || cost !== want)
        wrong.push(`${s.id}→${t.id}: reached ${at === t.id}, cost ${cost}, shortest ${want}`);
    }
  }
  expect(wrong.slice(0, 5), `${where}: routes`).toEqual([]);
}

/** Lets the test worker answer vitest between steps (a long synchronous run times its RPC out). */
function yieldToVitest(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function randomLinked(sim: MeshSimulator): SimRelay {
  const live = sim.live().filter((r) => r.links.size > 0);
  return live[sim.random(live.length)]!;
}

/** One random step around `size` relays: a join, a leave, a crash or a link failure. */
function churn(sim: MeshSimulator, size: number): string {
  const n = sim.live().length;
  let roll = sim.random(100);
  if (n <= size - 3) roll = 0;
  else if (n >= size + 3) roll = 40;
  if (roll < 30) {
    const r = sim.addRelay();
    sim.connect(r, randomLinked(sim), 1 + sim.random(4));
    return 'join';
  }
  if (roll < 50) {
    sim.leave(randomLinked(sim));
    return 'leave';
  }
  if (roll < 65) {
    sim.crash(randomLinked(sim));
    return 'crash';
  }
  const a = randomLinked(sim);
  const neighbours = [...a.links.keys()];
  sim.disconnect(a, sim.relays.get(neighbours[sim.random(neighbours.length)]!)!);
  return 'link failure';
}

describe('mesh simulation', () => {
  it('50 relays: built by joins, then 25 random joins, leaves, crashes and link failures', async () => {
    const sim = new MeshSimulator({ seed: 50, latencyMs: 5, checkedAdverts: new CheckedAdvertCache() });
    sim.addRelay();
    for (let i = 1; i < 50; i++) {
      const r = sim.addRelay();
      sim.connect(r, randomLinked(sim) ?? sim.live()[0]!, 1 + sim.random(4));
      sim.settle();
      check(sim, `join ${i}`);
      await yieldToVitest();
    }
    const kinds: Record<string, number> = {};
    for (let step = 0; step < 25; step++) {
      const kind = churn(sim, 50);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      sim.settle();
      check(sim, `step ${step}: ${kind}`);
      await yieldToVitest();
    }
    console.log(
      'mesh simulation, 50 relays:',
      kinds,
      `${sim.advertsSent} adverts sent, ${sim.installs} installed`,
    );
    expect(Object.keys(kinds).length).toBe(4);
  }, 300_000);

  it('200 relays: a starting cloud, then 10 random joins, leaves, crashes and link failures', async () => {
    const sim = new MeshSimulator({ seed: 200, latencyMs: 5, checkedAdverts: new CheckedAdvertCache() });
    sim.bootstrap(200);
    sim.settle();
    check(sim, 'start');
    const kinds: Record<string, number> = {};
    await yieldToVitest();
    for (let step = 0; step < 10; step++) {
      const kind = churn(sim, 200);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      sim.settle();
      check(sim, `step ${step}: ${kind}`);
      await yieldToVitest();
    }
    console.log(
      'mesh simulation, 200 relays:',
      kinds,
      `${sim.advertsSent} adverts sent, ${sim.installs} installed`,
    );
  });
});
