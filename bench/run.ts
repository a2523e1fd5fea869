/**
 * `npm run bench`: the Double Ratchet's throughput, then the relay against a raw WebSocket
 * forwarder under the same load, then a profile of the relay, then group fan-out against a
 * raw broadcaster (fanout-bench.ts); prints the tables and writes docs/BENCHMARKS.md. Runs
 * for about five minutes; every phase is bounded in time.
 *
 * `npm run bench -- --only fanout` (or `groupsend`, `conversation`, `mesh`, `hops`) runs that phase
 * alone and replaces only its section of docs/BENCHMARKS.md.
 */
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { initCrypto } from '@parus/core';
import type { Random } from '@parus/core';
import { summariseProfile } from './cpu-profile.ts';
import {
  benchConversation,
  conversationOnly,
  renderConversationSection,
  spliceConversationSection,
} from './conversation-bench.ts';
import { benchFanout, fanoutOnly, renderFanoutSection, spliceFanoutSection } from './fanout-bench.ts';
import { benchHops, hopsOnly, renderHopsSection, spliceHopsSection } from './hops-bench.ts';
import {
  benchGroupSend,
  groupSendOnly,
  renderGroupSendSection,
  spliceGroupSendSection,
} from './group-send-bench.ts';
import type { Target } from './ipc.ts';
import { runLoad } from './load-run.ts';
import type { RunOptions, RunResult } from './load-run.ts';
import { describeMachine } from './machine.ts';
import { benchMesh, meshOnly, renderMeshSection, spliceMeshSection } from './mesh-sim-bench.ts';
import { measureOpCosts } from './op-costs.ts';
import { benchRatchet } from './ratchet-bench.ts';
import type { RatchetResult } from './ratchet-bench.ts';
import { renderReport, renderSummary } from './report.ts';
import type { Report } from './report.ts';
import { keepingSections } from './web-sections.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUTPUT = fileURLToPath(new URL('../docs/BENCHMARKS.md', import.meta.url));

export const BODY_BYTES = 256;
const CLIENT_COUNTS = [100, 1_000];
const ROUNDS = 2;
const LOAD: Omit<RunOptions, 'target' | 'clients'> = {
  window: 8,
  bodyBytes: BODY_BYTES,
  warmupMs: 1_500,
  maxWarmupMs: 15_000,
  measureMs: 8_000,
  drainMs: 15_000,
  setupConcurrency: 32,
};
/** One pair, one message at a time: the latency of an idle server. */
const IDLE: Omit<RunOptions, 'target'> = {
  ...LOAD,
  clients: 2,
  window: 1,
  warmupMs: 500,
  maxWarmupMs: 2_000,
  measureMs: 3_000,
  drainMs: 2_000,
};
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

/** The share of a core a busy loop gets for `ms`: how much of its CPU the host is handing out. */
function cpuAvailability(ms: number): number {
  const cpu = process.cpuUsage();
  const start = performance.now();
  let x = 0;
  while (performance.now() - start < ms) x += Math.sqrt(x + 1);
  const used = process.cpuUsage(cpu);
  return x > 0 ? ((used.user + used.system) / 1000 / (performance.now() - start)) * 100 : NaN;
}

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/** HEAD, and the uncommitted state of the code under test (which others may be editing). */
function gitState(): { commit: string; dirty: number; fingerprint: string } {
  const paths = ['--', 'packages/core/src', 'packages/relay/src'];
  try {
    const status = git(['status', '--porcelain', ...paths]);
    const fingerprint = git(['rev-parse', 'HEAD']) + status + git(['diff', 'HEAD', ...paths]);
    const commit = git(['rev-parse', '--short', 'HEAD']).trim();
    return { commit, dirty: status.split('\n').filter((l) => l.trim() !== '').length, fingerprint };
  } catch {
    return { commit: 'unknown', dirty: 0, fingerprint: '' };
  }
}

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
    if (only === 'mesh') return meshOnly(log);
    if (only === 'hops') return hopsOnly(log);
    if (only !== 'fanout')
      throw new Error(`--only knows five phases: fanout, groupsend, conversation, mesh, hops (not ${only})`);
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

  const runs: RunResult[] = [];
  const run = async (opts: RunOptions): Promise<RunResult> => {
    const r = await runLoad(opts);
    log(brief(r));
    return r;
  };
  for (const target of ['raw', 'relay'] as Target[]) runs.push(await run({ ...IDLE, target }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const clients of CLIENT_COUNTS) {
      // Alternate which goes first, so that a slow spell of the host does not always hit the same one.
      const order: Target[] = round % 2 === 0 ? ['raw', 'relay'] : ['relay', 'raw'];
      for (const target of order) runs.push(await run({ ...LOAD, target, clients }));
    }
  }

  const profiled = await run({ ...PROFILED, target: 'relay', profile: true });
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
    config: { ...LOAD, rounds: ROUNDS, idle: IDLE, profiled: PROFILED },
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
  // Keep the web client's section (`npm run bench:web`) and the figures measured by hand.
  const previous = await readFile(OUTPUT, 'utf8').catch(() => '');
  await writeFile(
    OUTPUT,
    keepingSections(
      spliceHopsSection(
        spliceMeshSection(
          spliceConversationSection(
            spliceGroupSendSection(
              spliceFanoutSection(renderReport(report), renderFanoutSection(fanout)),
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
  console.log(`\n${renderSummary(report)}`);
  log(`wrote ${OUTPUT}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
