/**
 * `npm run bench`: the Double Ratchet's throughput, then the relay phase (relay-bench.ts: the
 * relay against a raw WebSocket forwarder, mosquitto and prosody under the same load), then a
 * profile of the relay, then group fan-out against a raw broadcaster (fanout-bench.ts), group
 * sends and 1:1 conversations; prints the tables and writes docs/BENCHMARKS.md. Runs for
 * about fifteen minutes; every phase is bounded in time.
 *
 * `npm run bench -- --only relay` (or `fanout`, `groupsend`, `conversation`, `mesh`, `hops`,
 * `connections`, `devices`, `calls`, `cluster`) runs that phase alone and replaces only its section of docs/BENCHMARKS.md; the
 * relay phase ends, alone or not, with one JSON line of its figures, and so does the connections
 * phase, and the devices phase (linking a device with 10,000 messages of history).
 */
import { randomFillSync } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { initCrypto } from '@parus/core';
import type { Random } from '@parus/core';
import { summariseProfile } from './cpu-profile.ts';
import { benchConnections, connectionsOnly, writeConnectionsSection } from './connections-bench.ts';
import {
  benchConversation,
  conversationOnly,
  renderConversationSection,
  spliceConversationSection,
} from './conversation-bench.ts';
import { devicesOnly } from './devices-bench.ts';
import { benchFanout, fanoutOnly, renderFanoutSection, spliceFanoutSection } from './fanout-bench.ts';
import { benchHops, hopsOnly, renderHopsSection, spliceHopsSection } from './hops-bench.ts';
import { clusterOnly } from './cluster-bench.ts';
import { callsOnly } from './calls-bench.ts';
import {
  benchGroupSend,
  groupSendOnly,
  renderGroupSendSection,
  spliceGroupSendSection,
} from './group-send-bench.ts';
import { runLoad } from './load-run.ts';
import type { RunOptions, RunResult } from './load-run.ts';
import { cpuAvailability, describeMachine, gitState } from './machine.ts';
import { benchMesh, meshOnly, renderMeshSection, spliceMeshSection } from './mesh-sim-bench.ts';
import { measureOpCosts } from './op-costs.ts';
import { benchRatchet } from './ratchet-bench.ts';
import type { RatchetResult } from './ratchet-bench.ts';
import {
  BODY_BYTES,
  IDLE,
  LOAD,
  RELAY_ROUNDS,
  benchRelay,
  relayFigures,
  relayOnly,
  relaySummary,
  renderRelaySection,
} from './relay-bench.ts';
import { renderReport, renderSummary } from './report.ts';
import type { Report } from './report.ts';
import { keepingSections } from './web-sections.ts';

const OUTPUT = fileURLToPath(new URL('../docs/BENCHMARKS.md', import.meta.url));

/** The profiled relay run: short, and not part of the figures (the profiler slows it). */
const PROFILED: Omit<RunOptions, 'target'> = {
  ...LOAD,
  clients: 100,
  warmupMs: 1_000,
  maxWarmupMs: 5_000,
  measureMs: 4_000,
};

/** Randomness from node:crypto, to show what the ratchet's figures owe to libsodium's. */
const nodeRandom: Random = { bytes: (length) => randomFillSync(new Uint8Array(length)) };

function log(line: string): void {
  console.log(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}`);
}

function brief(r: RunResult): string {
  return (
    `${r.target} ${r.clients} clients: ${Math.round(r.perSecond)} msg/s, p50 ${r.load.latencyMs.p50.toFixed(1)} ms, ` +
    `p99 ${r.load.latencyMs.p99.toFixed(1)} ms, server CPU ${r.serverCpuPercent.toFixed(0)} %`
  );
}

const started = performance.now();

/** The value of `--only`, if given: the one phase to run. */
function onlyPhase(): string | undefined {
  const at = process.argv.indexOf('--only');
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function main(): Promise<void> {
  await initCrypto();
  const only = onlyPhase();
  if (only !== undefined) {
    if (only === 'groupsend') return groupSendOnly(log);
    if (only === 'conversation') return conversationOnly(log);
    if (only === 'relay') return relayOnly(log, process.argv);
    if (only === 'mesh') return meshOnly(log);
    if (only === 'connections') return connectionsOnly(log);
    if (only === 'hops') return hopsOnly(log);
    if (only === 'devices') return devicesOnly(log);
    if (only === 'calls') return callsOnly(log);
    if (only === 'cluster') return clusterOnly(log);
    if (only !== 'fanout')
      throw new Error(
        `--only knows ten phases: relay, fanout, groupsend, conversation, mesh, hops, connections, devices, calls, cluster (not ${only})`,
      );
    return fanoutOnly(log);
  }
  const machine = await describeMachine();
  const tree = gitState();
  const availabilityBefore = cpuAvailability(1_000);
  log(
    `machine: ${machine.cpu}, ${machine.cores} cores; a busy loop got ${availabilityBefore.toFixed(0)} % of a core`,
  );

  const ratchet: RatchetResult[] = [];
  for (const mode of ['one way', 'ping-pong'] as const) {
    for (const rng of [undefined, { name: 'node:crypto randomFillSync (comparison)', random: nodeRandom }]) {
      const r = benchRatchet({
        mode,
        plaintextBytes: BODY_BYTES,
        ms: 1_500,
        maxMessages: 1_000_000,
        ...(rng ? { rng } : {}),
      });
      ratchet.push(r);
      log(`ratchet ${r.mode}, ${r.random}: ${Math.round(r.perSecond)} msg/s`);
    }
  }

  const opCosts = await measureOpCosts(BODY_BYTES);
  log('per-operation costs measured');

  const relayPhase = await benchRelay(log, { rounds: RELAY_ROUNDS, command: 'npm run bench' });
  // The relay and raw runs feed the analysis of where the relay's time goes.
  const runs = relayPhase.runs.filter((r) => r.target === 'relay' || r.target === 'raw');
  const profiled = await runLoad({ ...PROFILED, target: 'relay', profile: true });
  log(brief(profiled));
  const profile = await summariseProfile(
    profiled.profilePath!,
    profiled.windowUs.start,
    profiled.windowUs.end,
  );
  await rm(dirname(profiled.profilePath!), { recursive: true, force: true });
  const availabilityAfter = cpuAvailability(1_000);
  const treeAfter = gitState();

  const report: Report = {
    machine,
    git: {
      commit: tree.commit,
      dirty: tree.dirty,
      changedDuringRun: treeAfter.fingerprint !== tree.fingerprint,
    },
    availability: [availabilityBefore, availabilityAfter],
    config: { ...LOAD, rounds: RELAY_ROUNDS, idle: IDLE, profiled: PROFILED },
    ratchet,
    runs,
    profiled,
    profile,
    opCosts,
    elapsedMs: performance.now() - started,
  };
  const fanout = await benchFanout(log);
  const groupSend = await benchGroupSend(log);
  const conversation = await benchConversation(log);
  const mesh = await benchMesh(log);
  const hops = await renderHopsSection(await benchHops(log));
  const connections = await benchConnections(log);
  // Keep the web client's section (`npm run bench:web`) and the figures measured by hand.
  const previous = await readFile(OUTPUT, 'utf8').catch(() => '');
  await writeFile(
    OUTPUT,
    keepingSections(
      spliceHopsSection(
        spliceMeshSection(
          spliceConversationSection(
            spliceGroupSendSection(
              spliceFanoutSection(
                renderReport(report, renderRelaySection(relayPhase)),
                renderFanoutSection(fanout),
              ),
              renderGroupSendSection(groupSend),
            ),
            renderConversationSection(conversation),
          ),
          renderMeshSection(mesh),
        ),
        hops,
      ),
      previous,
    ),
  );
  await writeConnectionsSection(connections, log);
  console.log(`\n${relaySummary(relayPhase)}\n\n${renderSummary(report)}`);
  log(`wrote ${OUTPUT}`);
  // The relay phase's figures, last, for scripts (as `--only relay` ends).
  console.log(JSON.stringify(relayFigures(relayPhase)));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
