/**
 * `npm run bench -- --only connections`: the relay's footprint. Starts a relay process as an
 * operator does (`parus relay`, bin/parus.js), measures its resident set at rest, then opens
 * idle authenticated connections (hello, a queue, `sub`: connections-client.ts, several
 * processes) and measures the relay's resident set at 1,000, 5,000 and 10,000 of them, then
 * goes on to 50,000; then the same at rest and at 1,000 for `parus relay --small`. Replaces
 * its section of docs/BENCHMARKS.md and ends with one JSON line of its figures.
 *
 * The relay keeps its default limits except `maxConnections` (raised to the target) and the
 * hello timeout (connections are set up many at once); connections come from many loopback
 * source addresses (127.a.b.c), 64 each, the relay's default limit per source address. The
 * file-descriptor limit of every process is raised to its hard limit, which bounds how many
 * connections one relay process can hold (one descriptor each): the section says so when it
 * is what stopped the run.
 */
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  ConnectionsClientConfig,
  ConnectionsCommand,
  ConnectionsMessage,
} from './connections-client.ts';
import { BENCHMARKS_FILE, spliceSection, writeSection, type SectionMarkers } from './doc-sections.ts';
import { describeMachine } from './machine.ts';
import type { Machine } from './machine.ts';

const PARUS_BIN = fileURLToPath(new URL('../packages/cli/bin/parus.js', import.meta.url));
const CLIENT_SCRIPT = fileURLToPath(new URL('./connections-client.ts', import.meta.url));

/** Connection counts measured, and the count the run goes on to. */
export const MEASURED_COUNTS = [1_000, 5_000, 10_000];
export const TARGET_CONNECTIONS = 50_000;
/**
 * Connections per loopback source address: within the relay's limit per source address
 * (maxConnectionsPerAddress: 64 by default, 32 with `--small`), which stays in force.
 */
const PER_ADDRESS = 32;
/** Connections one client process holds at most (its own descriptors, its one core). */
const PER_CLIENT_PROCESS = 12_500;
/** Time for the relay to settle (timers, a GC) before its resident set is read. */
const SETTLE_MS = 3_000;
const SAMPLES = 5;
const SETUP_TIMEOUT_MS = 120_000;
/**
 * The Node options the user guide gives for `--small` (a young generation of 1 MiB and a heap
 * capped at 256 MiB): V8 sizes its heap when the process starts, so the relay cannot set them
 * itself.
 */
export const SMALL_NODE_OPTIONS = '--max-semi-space-size=1 --max-old-space-size=256';

export interface ConnectionsStage {
  /** Connections asked for, and open and set up when measured. */
  target: number;
  open: number;
  rssMiB: number;
  /** (RSS − RSS at rest) / open, KiB. */
  perConnectionKiB: number;
  /** Wall time to open this stage's new connections. */
  setupS: number;
  failed: number;
  errors: Record<string, number>;
}

export interface ConnectionsProfileResult {
  profile: 'default' | 'small';
  idleRssMiB: number;
  /** RSS right after start, before the settle (the start's own allocations not yet collected). */
  startRssMiB: number;
  stages: ConnectionsStage[];
  /** The relay's open-files limit, soft (in force) and hard. */
  fdLimit: { soft: number; hard: number };
  peakRssMiB: number;
}

export interface ConnectionsResult {
  machine: Machine;
  elapsedMs: number;
  default: ConnectionsProfileResult;
  small: ConnectionsProfileResult;
  maxConnections: number;
  loadAverage: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function statusField(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status);
  return match ? Number(match[1]) : NaN;
}

/** The resident set of `pid` in MiB: the median of a few reads over a second. */
async function rssMiB(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    samples.push(statusField(pid, 'VmRSS') / 1024);
    if (i + 1 < SAMPLES) await sleep(250);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

function openFilesLimit(pid: number): { soft: number; hard: number } {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const value = (s: string | undefined): number => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: value(match?.[1]), hard: value(match?.[2]) };
}

/**
 * Runs `argv` with its open-files limit raised to `want` (or the hard limit, if lower): a
 * process may raise its soft limit up to its hard limit, and the hard limit only with
 * CAP_SYS_RESOURCE.
 */
function withFileLimit(want: number): string[] {
  return ['bash', '-c', `ulimit -n ${want} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`, 'bash'];
}

interface RunningRelay {
  child: ChildProcess;
  pid: number;
  address: string;
  dataDir: string;
  output: string[];
}

async function startRelayProcess(small: boolean, maxConnections: number): Promise<RunningRelay> {
  const dataDir = await mkdtemp(join(tmpdir(), 'parus-bench-conn-'));
  const [shell, ...prefix] = withFileLimit(maxConnections + 1_000);
  const args = [
    ...prefix,
    process.execPath,
    PARUS_BIN,
    'relay',
    '--json',
    '--port',
    '0',
    '--data',
    dataDir,
    '--limit',
    `maxConnections=${maxConnections}`,
    '--limit',
    'helloTimeoutMs=120000',
    ...(small ? ['--small'] : []),
  ];
  const env = small ? { ...process.env, NODE_OPTIONS: SMALL_NODE_OPTIONS } : process.env;
  const child = spawn(shell!, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const output: string[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    if (output.length < 50) output.push(d.toString('utf8').trimEnd());
  });
  const address = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${output.join('\n')}`)), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited (${code}): ${output.join('\n')}`));
    });
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString('utf8');
      const line = buffered.split('\n')[0]!;
      if (!buffered.includes('\n')) return;
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { address: string }).address);
      } catch {
        reject(new Error(`unexpected relay output: ${line}`));
      }
    });
  });
  return { child, pid: child.pid!, address, dataDir, output };
}

async function stopRelayProcess(relay: RunningRelay): Promise<number> {
  const peak = statusField(relay.pid, 'VmHWM') / 1024;
  await new Promise<void>((resolve) => {
    if (relay.child.exitCode !== null) return resolve();
    const timer = setTimeout(() => relay.child.kill('SIGKILL'), 15_000);
    relay.child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    relay.child.kill('SIGTERM');
  });
  await rm(relay.dataDir, { recursive: true, force: true });
  return peak;
}

/** The loopback source addresses 127.a.b.c (c from 1 to 254), from 127.1.0.1 on. */
function sourceAddresses(count: number, skip: number): string[] {
  const out: string[] = [];
  for (let i = skip; out.length < count; i++) {
    const c = (i % 254) + 1;
    const ab = Math.floor(i / 254);
    out.push(`127.${1 + Math.floor(ab / 256)}.${ab % 256}.${c}`);
  }
  return out;
}

class ClientProcess {
  private readonly inbox: ConnectionsMessage[] = [];
  private waiter: ((m: ConnectionsMessage) => void) | undefined;
  private exitReason: string | undefined;
  open = 0;

  constructor(readonly child: ChildProcess) {
    child.on('message', (m: ConnectionsMessage) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(m);
      } else this.inbox.push(m);
    });
    child.once('exit', (code) => {
      this.exitReason = `client process exited (${code})`;
      this.waiter?.({ type: 'failed', error: this.exitReason });
    });
  }

  static start(cfg: ConnectionsClientConfig): ClientProcess {
    const [shell, ...prefix] = withFileLimit(PER_CLIENT_PROCESS + 1_000);
    // fork() needs node; the shell is only there to raise the limit, so fork through it.
    const child = fork(CLIENT_SCRIPT, [JSON.stringify(cfg)], {
      execPath: shell,
      execArgv: [...prefix, process.execPath, '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new ClientProcess(child);
  }

  next(timeoutMs: number): Promise<ConnectionsMessage> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    if (this.exitReason) return Promise.resolve({ type: 'failed', error: this.exitReason });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve({ type: 'failed', error: 'client process did not answer in time' });
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }

  send(command: ConnectionsCommand): void {
    this.child.send(command);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      this.send({ type: 'close' });
    } catch {
      this.child.kill('SIGKILL');
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Opens `count` more connections spread over the client processes; what each then reports. */
async function openMore(
  clients: ClientProcess[],
  count: number,
): Promise<{ open: number; failed: number; errors: Record<string, number>; ms: number }> {
  const started = performance.now();
  const share = clients.map(
    (_, i) => Math.floor(count / clients.length) + (i < count % clients.length ? 1 : 0),
  );
  clients.forEach((c, i) => c.send({ type: 'open', count: share[i]! }));
  const answers = await Promise.all(clients.map((c) => c.next(SETUP_TIMEOUT_MS * 4)));
  let failed = 0;
  const errors: Record<string, number> = {};
  answers.forEach((a, i) => {
    if (a.type !== 'opened') throw new Error(a.type === 'failed' ? a.error : `unexpected ${a.type}`);
    clients[i]!.open = a.open;
    failed += a.failed;
    for (const [why, n] of Object.entries(a.errors)) errors[why] = (errors[why] ?? 0) + n;
    if (a.lost > 0) errors['closed after set-up'] = (errors['closed after set-up'] ?? 0) + a.lost;
  });
  return {
    open: clients.reduce((n, c) => n + c.open, 0),
    failed,
    errors,
    ms: performance.now() - started,
  };
}

async function measureProfile(
  small: boolean,
  counts: number[],
  target: number,
  log: (line: string) => void,
): Promise<ConnectionsProfileResult> {
  const name = small ? 'small' : 'default';
  const relay = await startRelayProcess(small, target);
  const clients: ClientProcess[] = [];
  try {
    const startRssMiB = statusField(relay.pid, 'VmRSS') / 1024;
    await sleep(SETTLE_MS);
    const idleRssMiB = await rssMiB(relay.pid);
    const fdLimit = openFilesLimit(relay.pid);
    log(
      `connections (${name}): relay at rest ${idleRssMiB.toFixed(1)} MiB RSS, open files limit ${fdLimit.soft}`,
    );
    const processes = Math.max(1, Math.ceil(target / PER_CLIENT_PROCESS));
    const perProcessAddresses = Math.ceil(PER_CLIENT_PROCESS / PER_ADDRESS) + 64;
    for (let i = 0; i < processes; i++) {
      clients.push(
        ClientProcess.start({
          address: relay.address,
          sources: sourceAddresses(perProcessAddresses, i * perProcessAddresses),
          perAddress: PER_ADDRESS,
          concurrency: 32,
          timeoutMs: SETUP_TIMEOUT_MS,
        }),
      );
    }
    const stages: ConnectionsStage[] = [];
    let open = 0;
    for (const count of [...counts, target]) {
      if (count <= open) continue;
      const opened = await openMore(clients, count - open);
      open = opened.open;
      await sleep(SETTLE_MS);
      // Connections may have dropped while settling: ask for the count again.
      const now = await openMore(clients, 0);
      open = now.open;
      const rss = await rssMiB(relay.pid);
      const stage: ConnectionsStage = {
        target: count,
        open,
        rssMiB: rss,
        perConnectionKiB: open > 0 ? ((rss - idleRssMiB) * 1024) / open : NaN,
        setupS: opened.ms / 1000,
        failed: opened.failed,
        errors: { ...opened.errors, ...now.errors },
      };
      stages.push(stage);
      log(
        `connections (${name}): ${open} open (${count} asked, ${opened.failed} failed): relay ${rss.toFixed(1)} MiB, ` +
          `${stage.perConnectionKiB.toFixed(1)} KiB per connection; set up in ${stage.setupS.toFixed(1)} s` +
          (opened.failed > 0 ? `; ${JSON.stringify(stage.errors)}` : ''),
      );
      if (open < count) break;
    }
    await Promise.all(clients.map((c) => c.close()));
    const peakRssMiB = await stopRelayProcess(relay);
    return { profile: name, idleRssMiB, startRssMiB, stages, fdLimit, peakRssMiB };
  } catch (error) {
    for (const c of clients) c.child.kill('SIGKILL');
    await stopRelayProcess(relay).catch(() => 0);
    throw error;
  }
}

export async function benchConnections(log: (line: string) => void): Promise<ConnectionsResult> {
  const started = performance.now();
  const machine = await describeMachine();
  const loadAverage = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const def = await measureProfile(false, MEASURED_COUNTS, TARGET_CONNECTIONS, log);
  const small = await measureProfile(true, [1_000], 1_000, log);
  const reached = Math.max(0, ...def.stages.map((s) => s.open));
  return {
    machine,
    elapsedMs: performance.now() - started,
    default: def,
    small,
    maxConnections: reached,
    loadAverage,
  };
}

const SECTION_START = '<!-- connections benchmark: start -->';
const SECTION_END = '<!-- connections benchmark: end -->';
const MARKERS: SectionMarkers = { start: SECTION_START, end: SECTION_END, before: '## Double Ratchet' };

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';

/** The figures as one JSON line, for scripts. */
export function connectionsJson(r: ConnectionsResult): string {
  const perConnectionKiB: Record<string, number> = {};
  const sincePreviousKiB: Record<string, number> = {};
  r.default.stages.forEach((s, i) => {
    const before = i === 0 ? { rssMiB: r.default.idleRssMiB, open: 0 } : r.default.stages[i - 1]!;
    if (s.open > before.open)
      sincePreviousKiB[String(s.target)] = Number(
        (((s.rssMiB - before.rssMiB) * 1024) / (s.open - before.open)).toFixed(2),
      );
  });
  for (const s of r.default.stages)
    if (MEASURED_COUNTS.includes(s.target))
      perConnectionKiB[String(s.target)] = Number(s.perConnectionKiB.toFixed(2));
  return JSON.stringify({
    phase: 'connections',
    idleRssMiB: Number(r.default.idleRssMiB.toFixed(1)),
    perConnectionKiB,
    sincePreviousKiB,
    maxConnections: r.maxConnections,
    targetConnections: TARGET_CONNECTIONS,
    fdLimit: r.default.fdLimit.soft,
    smallIdleRssMiB: Number(r.small.idleRssMiB.toFixed(1)),
    smallPerConnectionKiB: Number((r.small.stages[0]?.perConnectionKiB ?? NaN).toFixed(2)),
  });
}

/** KiB per connection added since the previous stage (or since rest, for the first). */
function marginal(p: ConnectionsProfileResult, i: number): string {
  const s = p.stages[i]!;
  const before = i === 0 ? { rssMiB: p.idleRssMiB, open: 0 } : p.stages[i - 1]!;
  const added = s.open - before.open;
  return added > 0 ? `${fmt(((s.rssMiB - before.rssMiB) * 1024) / added, 1)} KiB` : '–';
}

export function renderConnectionsSection(r: ConnectionsResult): string {
  const m = r.machine;
  const rows = (p: ConnectionsProfileResult): string[] =>
    p.stages.map(
      (s, i) =>
        `| ${p.profile} | ${fmt(s.target)} | ${fmt(s.open)} | ${fmt(s.rssMiB, 1)} MiB | ${fmt(s.perConnectionKiB, 1)} KiB | ${marginal(p, i)} | ${fmt(s.setupS, 1)} s | ${
          s.failed > 0
            ? `${fmt(s.failed)}: ${Object.entries(s.errors)
                .map(([k, v]) => `${k} ×${fmt(v)}`)
                .join(', ')}`
            : 'none'
        } |`,
    );
  const at = (n: number): ConnectionsStage | undefined => r.default.stages.find((s) => s.target === n);
  const verdicts: string[] = [];
  const idle = r.default.idleRssMiB;
  verdicts.push(
    `At rest the relay holds **${fmt(idle, 1)} MiB** (target ≤ 60 MiB: ${idle <= 60 ? '**met**' : '**missed**'}); with \`--small\`, ${fmt(r.small.idleRssMiB, 1)} MiB.`,
  );
  const per = MEASURED_COUNTS.map((n) => at(n)).filter((s): s is ConnectionsStage => s !== undefined);
  if (per.length > 0) {
    const worst = Math.max(...per.map((s) => s.perConnectionKiB));
    verdicts.push(
      `Per idle authenticated connection: ${per.map((s) => `${fmt(s.perConnectionKiB, 1)} KiB at ${fmt(s.open)}`).join(', ')} (target ≤ 16 KiB: ${worst <= 16 ? '**met**' : '**missed**'}).`,
    );
  }
  const small = r.small.stages[0];
  if (small)
    verdicts.push(
      `With \`--small\` as the guide runs it: ${fmt(small.perConnectionKiB, 1)} KiB per connection at ${fmt(small.open)} (${small.perConnectionKiB <= 16 ? '**met**' : '**missed**'}).`,
    );
  const fd = r.default.fdLimit;
  const last = r.default.stages[r.default.stages.length - 1];
  const stoppedByFiles = r.maxConnections + 64 >= fd.soft;
  verdicts.push(
    `Concurrent connections reached: **${fmt(r.maxConnections)}** of ${fmt(TARGET_CONNECTIONS)}` +
      (r.maxConnections >= TARGET_CONNECTIONS
        ? ' (target **met**).'
        : stoppedByFiles
          ? ` (target **missed**): the relay process's open-files limit was ${fmt(fd.soft)} (hard limit ${fmt(fd.hard)}) and each connection takes one descriptor; the connections past it were reset at accept. A process raises its hard limit only with CAP_SYS_RESOURCE; on a machine that allows ${fmt(TARGET_CONNECTIONS + 1_000)} open files the run goes on to ${fmt(TARGET_CONNECTIONS)}.`
          : ` (target **missed**; failures: ${
              last
                ? Object.entries(last.errors)
                    .map(([k, v]) => `${k} ×${fmt(v)}`)
                    .join(', ') || 'none'
                : 'none'
            }).`),
  );
  return `${SECTION_START}
## Relay footprint: memory at rest and per connection

_Generated by \`npm run bench -- --only connections\` (bench/connections-bench.ts) on ${m.date} in ${fmt(r.elapsedMs / 1000)} s, on ${m.cpu}, ${m.cores} cores, ${fmt(m.memoryBytes / 1048576)} MiB, Node ${m.node}; load average ${r.loadAverage} at the start (the machine is shared with other work)._

The relay runs as an operator runs it (\`parus relay\`, its own process, default limits except \`maxConnections\` and the hello timeout). Its resident set (VmRSS from /proc, the median of ${SAMPLES} reads over a second, ${SETTLE_MS / 1000} s after the last connection was set up) is read at rest and then with N idle authenticated connections open: each said hello (the relay's signature checked), created a queue secured with a sender key, and subscribed to it, over the real protocol, from ${Math.ceil(TARGET_CONNECTIONS / PER_CLIENT_PROCESS)} load processes (bench/connections-client.ts) and loopback source addresses 127.a.b.c, ${PER_ADDRESS} connections each (within the relay's limit per source address, which stays as it is). The small profile runs as the user guide gives it: \`NODE_OPTIONS='${SMALL_NODE_OPTIONS}' parus relay --small\`. _Per connection_ is (RSS − RSS at rest) ÷ connections open; _since the previous row_ is the growth from the row above divided by the connections added, which leaves out what the relay grows once, whatever the count (V8's young generation grows to its size under the first burst of work, SQLite's page cache to its 2 MiB, code is compiled).

| profile | N asked | open | relay RSS | per connection | since the previous row | set-up | failed |
| --- | --: | --: | --: | --: | --: | --: | --- |
| default | 0 | 0 | ${fmt(r.default.idleRssMiB, 1)} MiB | – | – | – | – |
${rows(r.default).join('\n')}
| small | 0 | 0 | ${fmt(r.small.idleRssMiB, 1)} MiB | – | – | – | – |
${rows(r.small).join('\n')}

${verdicts.join(' ')} Peak RSS over the run: ${fmt(r.default.peakRssMiB, 1)} MiB (default), ${fmt(r.small.peakRssMiB, 1)} MiB (small). Where the memory goes and what was cut: docs/decisions/0035.

${SECTION_END}`;
}

export function spliceConnectionsSection(markdown: string, section: string): string {
  return spliceSection(markdown, MARKERS, section);
}

/** Replaces this benchmark's section of docs/BENCHMARKS.md and prints its JSON line. */
export async function writeConnectionsSection(
  result: ConnectionsResult,
  log: (line: string) => void,
): Promise<void> {
  await writeSection(MARKERS, renderConnectionsSection(result));
  log(`wrote the connections section of ${BENCHMARKS_FILE}`);
  console.log(connectionsJson(result));
}

/** `--only connections`: run this benchmark alone and update its section of docs/BENCHMARKS.md. */
export async function connectionsOnly(log: (line: string) => void): Promise<void> {
  await writeConnectionsSection(await benchConnections(log), log);
}
