/**
 * Relay mesh convergence (`npm run bench -- --only mesh`): in the in-process simulation of
 * packages/core/test/mesh-simulator.ts (each relay the real core code: its own link-state
 * database, adverts encoded, flooded hop by hop, decoded and checked), how long after a
 * failure every relay's database, and so every relay's routes, agree again, and how many
 * adverts that took; then how long until the repair rule has made the cloud bridgeless with
 * ≥ 3 links per relay again.
 *
 * Model: every link has the same one-way latency (LINK_LATENCY_MS, simulated); a relay handles
 * one advert at a time and each takes the CPU time it really took here (measured, as if each
 * relay had a core of its own); both ends notice a failed link at once (detection time is not
 * counted); relays wait HOLD_DOWN_MS after the flooding before applying the repair rule. The
 * starting cloud is built without timing; from the first failure on, every relay reads and
 * checks every advert itself (no shared cache).
 */
import { performance } from 'node:perf_hooks';
import { initCrypto, isTwoEdgeConnected, minDegree, targetDegree } from '@parus/core';
import { CheckedAdvertCache } from '../packages/core/src/mesh/link-state-db.ts';
import { MeshSimulator, type SimRelay } from '../packages/core/test/mesh-simulator.ts';
import { spliceSection, writeSection, type SectionMarkers } from './doc-sections.ts';
import { describeMachine, type Machine } from './machine.ts';

export const MESH_SIZES = [50, 200];
export const LINK_LATENCY_MS = 20;
export const HOLD_DOWN_MS = 200;
/** Failures measured per size: link failures, then relay crashes. */
const TRIALS = { link: 4, crash: 3 };

const MARKERS: SectionMarkers = {
  start: '<!-- mesh simulation benchmark: start -->',
  end: '<!-- mesh simulation benchmark: end -->',
  before: '## Double Ratchet',
};

export interface MeshTrial {
  relays: number;
  /** A link of a relay with the fewest links fails, or a random relay stops. */
  failure: 'link' | 'relay crash';
  /** From the failure until the last relay installed the last advert about it, ms. */
  agreeMs: number;
  /** Adverts put on links until then. */
  adverts: number;
  /** From the failure until the repair links were up and flooded (hold-down included), ms. */
  repairedMs: number;
  /** Links the repair rule added. */
  repairLinks: number;
  /** Adverts for the whole episode, repair included. */
  advertsWithRepair: number;
  /** Mean CPU time of one advert received, µs. */
  receiveUs: number;
}

export interface MeshReport {
  machine: Machine;
  elapsedMs: number;
  trials: MeshTrial[];
}

function trial(sim: MeshSimulator, relays: number, failure: MeshTrial['failure']): MeshTrial {
  const live = sim.live();
  const start = sim.now;
  const sent = sim.advertsSent;
  const receives = sim.receives;
  const cpu = sim.receiveCpuMs;
  sim.lastInstallAt = start;
  if (failure === 'link') {
    // At a relay with the fewest links, so that it falls short and the repair rule must act.
    const fewest = Math.min(...live.map((r) => r.links.size));
    const short = live.filter((r) => r.links.size === fewest);
    const a = short[sim.random(short.length)]!;
    const neighbours = [...a.links.keys()];
    sim.disconnect(a, sim.relays.get(neighbours[sim.random(neighbours.length)]!)!);
  } else {
    sim.crash(live[sim.random(live.length)]!);
  }
  sim.run();
  const agreeMs = sim.lastInstallAt - start;
  const adverts = sim.advertsSent - sent;
  const digests = new Set(sim.live().map((r: SimRelay) => r.db.digest()));
  if (digests.size !== 1) throw new Error('databases disagree after flooding');
  const added = sim.settle({ holdDownMs: HOLD_DOWN_MS });
  const g = sim.trueGraph();
  if (!isTwoEdgeConnected(g) || minDegree(g) < targetDegree(sim.live().length)) {
    throw new Error('the cloud was not repaired');
  }
  return {
    relays,
    failure,
    agreeMs,
    adverts,
    repairedMs: Math.max(agreeMs, sim.lastInstallAt - start),
    repairLinks: added.length,
    advertsWithRepair: sim.advertsSent - sent,
    receiveUs: ((sim.receiveCpuMs - cpu) / Math.max(1, sim.receives - receives)) * 1000,
  };
}

export async function benchMesh(log: (line: string) => void): Promise<MeshReport> {
  await initCrypto();
  const started = performance.now();
  const trials: MeshTrial[] = [];
  for (const n of MESH_SIZES) {
    const cache = new CheckedAdvertCache();
    const sim = new MeshSimulator({
      seed: n,
      latencyMs: LINK_LATENCY_MS,
      measureCpu: true,
      checkedAdverts: cache,
    });
    sim.bootstrap(n);
    sim.settle();
    // From here on every relay checks what it receives, as a real relay does.
    for (const r of sim.relays.values()) r.db.checkedAdverts = undefined;
    for (const [failure, count] of [
      ['link', TRIALS.link],
      ['relay crash', TRIALS.crash],
    ] as const) {
      for (let i = 0; i < count; i++) {
        const t = trial(sim, n, failure);
        trials.push(t);
        log(
          `mesh ${n} relays, ${failure}: routes agree after ${t.agreeMs.toFixed(0)} ms (${t.adverts} adverts), ` +
            `repaired after ${t.repairedMs.toFixed(0)} ms (${t.repairLinks} links)`,
        );
      }
    }
  }
  return { machine: await describeMachine(), elapsedMs: performance.now() - started, trials };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.floor((s.length - 1) / 2)]!;
}

export function renderMeshSection(r: MeshReport): string {
  const rows: string[] = [];
  for (const n of MESH_SIZES) {
    for (const failure of ['link', 'relay crash'] as const) {
      const ts = r.trials.filter((t) => t.relays === n && t.failure === failure);
      if (ts.length === 0) continue;
      const max = (f: (t: MeshTrial) => number): string => Math.max(...ts.map(f)).toFixed(0);
      const med = (f: (t: MeshTrial) => number): string => median(ts.map(f)).toFixed(0);
      rows.push(
        `| ${n} | ${failure} (${ts.length}) | ${med((t) => t.agreeMs)} / ${max((t) => t.agreeMs)} | ` +
          `${med((t) => t.adverts)} | ${med((t) => t.repairedMs)} / ${max((t) => t.repairedMs)} | ` +
          `${med((t) => t.repairLinks)} | ${med((t) => t.advertsWithRepair)} | ${med((t) => t.receiveUs)} |`,
      );
    }
  }
  return [
    MARKERS.start,
    '## Relay mesh: convergence after a failure (simulated)',
    '',
    `\`npm run bench -- --only mesh\` (bench/mesh-sim-bench.ts) on ${r.machine.date}, ${r.machine.cpu}, ${r.machine.cores} cores, ` +
      `${(r.elapsedMs / 1000).toFixed(0)} s. The in-process simulation of the relay mesh ` +
      '(packages/core/test/mesh-simulator.ts): every relay runs the real core code (its own link-state database; ' +
      'adverts encoded, flooded hop by hop, decoded and signature-checked by every relay). ' +
      `**Simulated link latency: ${LINK_LATENCY_MS} ms one way on every link.** A relay handles one advert at a time, ` +
      'each taking the CPU time it really took on this machine (process CPU time, so other programs on the ' +
      'machine do not count). Both ends notice a failed link at once (failure detection is not counted). The ' +
      'failed link belongs to a relay with the fewest links (3), so that the repair rule must add one; the ' +
      'crashed relay is any relay. "Routes agree": the last relay installed the last advert about the ' +
      'failure, so every database, and every next-hop table computed from it, is the same. "Repaired": relays ' +
      `waited ${HOLD_DOWN_MS} ms of quiet (hold-down), the one relay the repair rule names dialled each link, and ` +
      'the new adverts were flooded: bridgeless, ≥ 3 links per relay. Times are median / worst of the trials.',
    '',
    '| relays | failure (trials) | routes agree, ms | adverts flooded | repaired, ms | links added | adverts with repair | CPU per advert received, µs |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    'Goal (issue 13): routes agree in under 1 s at 50 relays. The CPU figure comes from a loaded, shared machine ' +
      'when it was measured on one; the simulated times include it.',
    MARKERS.end,
  ].join('\n');
}

export function spliceMeshSection(markdown: string, section: string): string {
  return spliceSection(markdown, MARKERS, section);
}

/** `npm run bench -- --only mesh`: this phase alone, its section of docs/BENCHMARKS.md replaced. */
export async function meshOnly(log: (line: string) => void): Promise<void> {
  await writeSection(MARKERS, renderMeshSection(await benchMesh(log)));
}
