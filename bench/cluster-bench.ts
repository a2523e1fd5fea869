/**
 * `npm run bench -- --only cluster` (issue 17, decision 0050): the relay phase's load (clients in
 * pairs, 256-byte bodies, window 8) on one relay process with SQLite, one with PostgreSQL, and
 * two and three processes sharing one PostgreSQL and one Redis behind a TCP round-robin proxy,
 * in one run. Relay CPU is summed over the processes (µs per delivered message in the measured
 * window); PostgreSQL's and Redis's CPU over the whole run (set-up included) per message
 * received. Writes its section of docs/BENCHMARKS.md and ends with one JSON line. Skips, saying
 * so, when postgres or redis-server is not installed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SectionMarkers } from './doc-sections.ts';
import { writeSection } from './doc-sections.ts';
import { describeError } from './ipc.ts';
import { forkServer, runLoad } from './load-run.ts';
import type { RunResult, ServerUnderTest } from './load-run.ts';
import { cpuAvailability, describeMachine, gitState } from './machine.ts';
import { BODY_BYTES, LOAD } from './relay-bench.ts';
import {
  POSTGRES_MISSING,
  postgresAvailable,
  startPostgresServer,
} from '../packages/relay/test/support/postgres-server.ts';
import {
  REDIS_MISSING,
  redisAvailable,
  startRedisServer,
} from '../packages/relay/test/support/redis-server.ts';
import { startRoundRobinProxy } from '../packages/relay/test/support/round-robin-proxy.ts';

const MARKERS: SectionMarkers = {
  start: '<!-- cluster benchmark: start -->',
  end: '<!-- cluster benchmark: end -->',
  before: '## Double Ratchet',
};

const CLIENTS = 100;

interface Setup {
  name: string;
  processes: number;
  postgres: boolean;
}

const SETUPS: Setup[] = [
  { name: '1 process, SQLite', processes: 1, postgres: false },
  { name: '1 process, PostgreSQL', processes: 1, postgres: true },
  { name: '2 processes, PostgreSQL + Redis', processes: 2, postgres: true },
  { name: '3 processes, PostgreSQL + Redis', processes: 3, postgres: true },
];

interface ClusterRun {
  setup: Setup;
  run?: RunResult;
  /** PostgreSQL's and Redis's CPU over the whole run, µs per message received. */
  postgresUsPerMessage?: number;
  redisUsPerMessage?: number;
  error?: string;
}

/** CPU of a process and of all its children, live or reaped (utime, stime, cutime, cstime), ms. */
function treeCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const ticks = 100;
  const own = (p: number): { ms: number; ppid: number } | undefined => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return {
        ms: ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / ticks) * 1000,
        ppid: Number(f[1]),
      };
    } catch {
      return undefined;
    }
  };
  let total = own(pid)?.ms ?? NaN;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = own(Number(entry));
    if (child?.ppid === pid) total += child.ms;
  }
  return total;
}

/** The pid of the process whose command line has all of `parts`. */
function findPid(parts: string[]): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const line = args.join(' ');
      if (parts.every((p) => args.includes(p) || line.includes(p))) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

export async function clusterOnly(log: (line: string) => void): Promise<void> {
  if (!postgresAvailable || !redisAvailable) {
    const why = postgresAvailable ? REDIS_MISSING : POSTGRES_MISSING;
    log(`cluster: skipped: ${why}`);
    console.log(JSON.stringify({ cluster: { skipped: why } }));
    return;
  }
  const machine = await describeMachine();
  const tree = gitState();
  const availability = cpuAvailability(1_000);
  log(
    `machine: ${machine.cpu}, ${machine.cores} cores; a busy loop got ${availability.toFixed(0)} % of a core`,
  );
  const pg = await startPostgresServer();
  const redis = await startRedisServer();
  const secretDir = mkdtempSync(join(tmpdir(), 'parus-bench-secret-'));
  const keySecret = join(secretDir, 'key-secret');
  writeFileSync(keySecret, randomBytes(32).toString('hex'), { mode: 0o600 });
  const postmaster = findPid(['-p', String(pg.port), '-D']);
  const redisPid = findPid(['redis-server', `:${redis.port}`]);
  const results: ClusterRun[] = [];
  try {
    for (const [i, setup] of SETUPS.entries()) {
      const servers: ServerUnderTest[] = [];
      let proxy: Awaited<ReturnType<typeof startRoundRobinProxy>> | undefined;
      try {
        const store = setup.postgres ? await pg.createDatabase(`bench_${i}_${Date.now()}`) : undefined;
        const options = store ? { store, keySecret, ...(setup.processes > 1 ? { bus: redis.url } : {}) } : {};
        // One after the other: the first one makes the relay key in the store.
        for (let n = 0; n < setup.processes; n++)
          servers.push(await forkServer({ target: 'relay' }, undefined, ['{}', JSON.stringify(options)]));
        let address = servers[0]!.address;
        if (setup.processes > 1) {
          proxy = await startRoundRobinProxy(servers.map((s) => Number(/:(\d+)$/.exec(s.address)![1])));
          address = address.replace(/:\d+$/, `:${proxy.port}`);
        }
        const cluster: ServerUnderTest = {
          pid: servers[0]!.pid,
          pids: servers.map((s) => s.pid!),
          address,
          markStart: () => servers.forEach((s) => s.markStart()),
          markEnd: () => servers.forEach((s) => s.markEnd()),
          loopDelay: async () => {
            const all = await Promise.all(servers.map((s) => s.loopDelay()));
            return {
              p99Ms: Math.max(...all.map((d) => d.p99Ms)),
              maxMs: Math.max(...all.map((d) => d.maxMs)),
            };
          },
          stop: async () => {
            const stats = await Promise.all(servers.map((s) => s.stop()));
            const sum = (f: (r: NonNullable<(typeof stats)[0]['relay']>) => number | undefined): number =>
              stats.reduce((t, s) => t + (s.relay ? (f(s.relay) ?? 0) : 0), 0);
            return {
              peakRssBytes: Math.max(...stats.map((s) => s.peakRssBytes)),
              relay: {
                messagesStored: sum((r) => r.messagesStored),
                messagesDelivered: sum((r) => r.messagesDelivered),
                errorsSent: sum((r) => r.errorsSent),
                messages: sum((r) => r.messages),
              },
              log: stats.flatMap((s) => s.log),
              logLines: stats.reduce((t, s) => t + s.logLines, 0),
            };
          },
          kill: () => servers.forEach((s) => s.kill()),
        };
        const pgBefore = treeCpuMs(postmaster);
        const redisBefore = treeCpuMs(redisPid);
        const run = await runLoad({ ...LOAD, target: 'relay', clients: CLIENTS }, cluster);
        servers.length = 0;
        const received = run.load.received;
        const result: ClusterRun = { setup, run };
        if (setup.postgres)
          result.postgresUsPerMessage = ((treeCpuMs(postmaster) - pgBefore) * 1000) / received;
        if (setup.processes > 1)
          result.redisUsPerMessage = ((treeCpuMs(redisPid) - redisBefore) * 1000) / received;
        results.push(result);
        log(
          `${setup.name}: ${Math.round(run.perSecond)} msg/s, relay CPU ${run.serverCpuUsPerMessage.toFixed(0)} µs/msg` +
            (result.postgresUsPerMessage !== undefined
              ? `, PostgreSQL ${result.postgresUsPerMessage.toFixed(0)} µs/msg`
              : '') +
            (result.redisUsPerMessage !== undefined
              ? `, Redis ${result.redisUsPerMessage.toFixed(0)} µs/msg`
              : ''),
        );
      } catch (error) {
        for (const s of servers) s.kill();
        results.push({ setup, error: describeError(error) });
        log(`${setup.name}: FAILED: ${describeError(error)}`);
      } finally {
        await proxy?.close();
      }
    }
  } finally {
    await redis.stop();
    await pg.stop();
    rmSync(secretDir, { recursive: true, force: true });
  }
  await writeSection(
    MARKERS,
    section(results, { machine: `${machine.cpu}, ${machine.cores} cores`, tree, availability }),
  );
  console.log(
    JSON.stringify({
      cluster: results.map((r) => ({
        setup: r.setup.name,
        processes: r.setup.processes,
        store: r.setup.postgres ? 'postgres' : 'sqlite',
        ...(r.run
          ? {
              perSecond: Math.round(r.run.perSecond),
              relayCpuUsPerMessage: Math.round(r.run.serverCpuUsPerMessage),
              p50Ms: r.run.load.latencyMs.p50,
              p99Ms: r.run.load.latencyMs.p99,
              undelivered: r.run.load.undelivered,
            }
          : { error: r.error }),
        ...(r.postgresUsPerMessage !== undefined
          ? { postgresCpuUsPerMessage: Math.round(r.postgresUsPerMessage) }
          : {}),
        ...(r.redisUsPerMessage !== undefined
          ? { redisCpuUsPerMessage: Math.round(r.redisUsPerMessage) }
          : {}),
      })),
    }),
  );
}

function section(
  results: ClusterRun[],
  about: { machine: string; tree: ReturnType<typeof gitState>; availability: number },
): string {
  const rows = results.map((r) => {
    if (!r.run) return `| ${r.setup.name} | failed: ${r.error ?? '?'} | | | | |`;
    const us = (v: number | undefined): string => (v === undefined ? '—' : v.toFixed(0));
    return (
      `| ${r.setup.name} | ${Math.round(r.run.perSecond).toLocaleString('en-US')} | ${r.run.serverCpuUsPerMessage.toFixed(0)} | ` +
      `${us(r.postgresUsPerMessage)} | ${us(r.redisUsPerMessage)} | ${r.run.load.latencyMs.p50.toFixed(1)} / ${r.run.load.latencyMs.p99.toFixed(1)} |`
    );
  });
  return `${MARKERS.start}
## Several relay processes (\`--only cluster\`)

${CLIENTS} clients in pairs, ${BODY_BYTES}-byte bodies, window ${LOAD.window}, the relay phase's load; every setup
in the same run, one after the other. Two and three processes share one PostgreSQL and one Redis (started by the
bench on loopback) behind a TCP round-robin proxy (bench's own, in the orchestrator process), as behind an
operator's load balancer. Relay CPU: summed over the relay processes, per message delivered in the measured
window. PostgreSQL and Redis: their processes' CPU over the whole run (set-up and drain included), per message
received. Machine: ${about.machine}; a busy loop got ${about.availability.toFixed(0)} % of a core when it started
(a loaded machine gives noisy msg/s: compare CPU per message). Tree: ${about.tree.commit}${about.tree.dirty ? ' (with changes)' : ''}.

| setup | msg/s | relay CPU µs/msg | PostgreSQL CPU µs/msg | Redis CPU µs/msg | p50 / p99 ms |
| --- | --: | --: | --: | --: | --: |
${rows.join('\n')}
${MARKERS.end}`;
}
