/**
 * One measured run, seen from the orchestrator: fork the server under test (or start an
 * anchor, anchor-servers.ts), fork the load generator, pass the window marks from one to
 * the other, collect both sides' figures. Every wait has a deadline; a child that misses
 * one is killed and the run fails.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  LoadCommand,
  LoadConfig,
  LoadMessage,
  LoadResult,
  ServerCommand,
  ServerMessage,
  ServerStats,
  Target,
} from './ipc.ts';
import { isAnchor, startAnchor } from './anchor-servers.ts';
import { cpuTimeMs, monotonicUs } from './proc-stat.ts';
import { serverScript } from './server-bundle.ts';

const LOAD_SCRIPT = fileURLToPath(new URL('./load-generator.ts', import.meta.url));

export interface RunOptions extends Omit<LoadConfig, 'address'> {
  /** Run the server under `--cpu-prof`, and return the profile's path. */
  profile?: boolean;
}

export interface RunResult {
  target: Target;
  clients: number;
  window: number;
  load: LoadResult;
  server: ServerStats;
  /** Server CPU over the measured window, % of one core (measured through /proc). */
  serverCpuPercent: number;
  /** Server CPU time per delivered message in the window, µs. */
  serverCpuUsPerMessage: number;
  /** The server's event-loop delay over (roughly) the window (NaN for the anchors). */
  loopDelay: { p99Ms: number; maxMs: number };
  /** The measured window on the profiler's clock, microseconds. */
  windowUs: { start: number; end: number };
  profilePath?: string;
  /** Deliveries per second over the measured window. */
  perSecond: number;
}

/** Messages from a child, buffered until someone waits for them. */
class Channel<In extends { type: string }, Out> {
  private readonly queue: In[] = [];
  private waiter: ((m: In) => void) | undefined;
  private exited: string | undefined;
  private onExit: ((why: string) => void) | undefined;

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
    private readonly intercept: (m: In) => boolean = () => false,
  ) {
    child.on('message', (m: In) => {
      if (this.intercept(m)) return;
      if (this.waiter) this.waiter(m);
      else this.queue.push(m);
    });
    child.on('exit', (code, signal) => {
      this.exited = `${name} exited (${signal ?? code})`;
      this.onExit?.(this.exited);
    });
  }

  send(m: Out): void {
    if (this.child.connected) this.child.send(m as object);
  }

  /** The next message, which must be of type `type`. */
  next<T extends In['type']>(type: T, timeoutMs: number): Promise<Extract<In, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`${this.name}: no '${type}' within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const finish = (error: Error | undefined, m?: In): void => {
        clearTimeout(timer);
        this.waiter = undefined;
        this.onExit = undefined;
        if (error) return reject(error);
        if (m!.type !== type) {
          const detail = 'error' in m! ? `: ${String(m.error)}` : '';
          return reject(new Error(`${this.name}: expected '${type}', got '${m!.type}'${detail}`));
        }
        resolve(m as Extract<In, { type: T }>);
      };
      const queued = this.queue.shift();
      if (queued) return finish(undefined, queued);
      if (this.exited) return finish(new Error(this.exited));
      this.waiter = (m) => finish(undefined, m);
      this.onExit = (why) => finish(new Error(why));
    });
  }

  /** Waits for the child to exit, killing it after `timeoutMs`. */
  async exit(timeoutMs: number): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
      }, timeoutMs);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** The server under test, as runLoad drives it: a forked Node server or an anchor. */
export interface ServerUnderTest {
  pid: number | undefined;
  /** Several processes (cluster-bench.ts): their CPU is summed; `pid` is then ignored. */
  pids?: number[];
  address: string;
  markStart(): void;
  markEnd(): void;
  loopDelay(): Promise<{ p99Ms: number; maxMs: number }>;
  stop(): Promise<ServerStats>;
  kill(): void;
}

/** `args`: server-process.ts's arguments after the target (limits, then relay options, as JSON). */
export async function forkServer(
  opts: Pick<RunOptions, 'target'>,
  profileDir: string | undefined,
  args: string[] = [],
): Promise<ServerUnderTest> {
  // As an operator runs it: the esbuild bundle, not the sources through tsx (server-bundle.ts);
  // a profiled run keeps the sources, as cpu-profile.ts attributes samples by source file.
  const { script, execArgv } = await serverScript({ sources: profileDir !== undefined });
  if (profileDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', profileDir);
  const server = new Channel<ServerMessage, ServerCommand>(
    fork(script, [opts.target, ...args], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    `${opts.target} server`,
  );
  try {
    const { address } = await server.next('listening', 30_000);
    return {
      pid: server.child.pid,
      address,
      markStart: () => server.send({ type: 'mark-start' }),
      markEnd: () => server.send({ type: 'mark-end' }),
      loopDelay: () => server.next('loop-delay', 30_000),
      stop: async () => {
        server.send({ type: 'stop' });
        const { stats } = await server.next('stopped', 30_000);
        await server.exit(30_000);
        return stats;
      },
      kill: () => server.kill(),
    };
  } catch (error) {
    server.kill();
    throw error;
  }
}

async function anchorServer(opts: RunOptions): Promise<ServerUnderTest> {
  if (!isAnchor(opts.target)) throw new Error(`${opts.target} is not an anchor`);
  if (opts.profile) throw new Error('the anchors are not Node processes: no --cpu-prof');
  const anchor = await startAnchor(opts.target, opts.window);
  return {
    pid: anchor.pid,
    address: anchor.address,
    markStart: () => {},
    markEnd: () => {},
    loopDelay: () => Promise.resolve({ p99Ms: NaN, maxMs: NaN }),
    stop: () => anchor.stop(),
    kill: () => anchor.kill(),
  };
}

/** `given`: a server already started (cluster-bench.ts); runLoad stops it at the end. */
export async function runLoad(opts: RunOptions, given?: ServerUnderTest): Promise<RunResult> {
  const profileDir = opts.profile ? await mkdtemp(join(tmpdir(), 'parus-bench-prof-')) : undefined;
  const server =
    given ?? (isAnchor(opts.target) ? await anchorServer(opts) : await forkServer(opts, profileDir));
  let load: Channel<LoadMessage, LoadCommand> | undefined;
  try {
    const cfg: LoadConfig = { ...withoutProfile(opts), address: server.address };
    const window = { startUs: NaN, endUs: NaN, startCpuMs: NaN, endCpuMs: NaN };
    const serverPids: Array<number | undefined> = server.pids ?? [server.pid];
    const serverCpu = (): number => serverPids.reduce<number>((sum, pid) => sum + cpuTimeMs(pid), 0);
    load = new Channel<LoadMessage, LoadCommand>(
      fork(LOAD_SCRIPT, [JSON.stringify(cfg)], {
        execArgv: [...process.execArgv],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
      'load generator',
      (m) => {
        // The window marks: read the server's CPU time now, and pass them on to it.
        if (m.type === 'measure-start') {
          window.startUs = monotonicUs();
          window.startCpuMs = serverCpu();
          server.markStart();
        } else if (m.type === 'measure-end') {
          window.endUs = monotonicUs();
          window.endCpuMs = serverCpu();
          server.markEnd();
        } else {
          return false;
        }
        return true;
      },
    );
    await load.next('ready', 180_000);
    load.send({ type: 'go' });
    const phaseMs = opts.maxWarmupMs + opts.measureMs + opts.drainMs;
    const { result } = await load.next('result', phaseMs + 30_000);
    // JSON carries NaN (no message in the window) as null; make it NaN again.
    const latency = result.latencyMs as unknown as Record<string, number | null>;
    for (const key of Object.keys(latency)) latency[key] = latency[key] ?? NaN;
    const loopDelay = await server.loopDelay();
    await load.exit(5_000);
    const stats = await server.stop();
    const serverCpuMs = window.endCpuMs - window.startCpuMs;
    const run: RunResult = {
      target: opts.target,
      clients: opts.clients,
      window: opts.window,
      load: result,
      server: stats,
      serverCpuPercent: (serverCpuMs / ((window.endUs - window.startUs) / 1000)) * 100,
      serverCpuUsPerMessage: (serverCpuMs * 1000) / result.delivered,
      loopDelay: { p99Ms: loopDelay.p99Ms, maxMs: loopDelay.maxMs },
      windowUs: { start: window.startUs, end: window.endUs },
      perSecond: result.delivered / (result.measuredMs / 1000),
    };
    if (profileDir) {
      const file = (await readdir(profileDir)).find((f) => f.endsWith('.cpuprofile'));
      if (!file) throw new Error('the profiled server wrote no .cpuprofile');
      run.profilePath = join(profileDir, file);
    }
    return run;
  } finally {
    load?.kill();
    server.kill();
  }
}

function withoutProfile(opts: RunOptions): Omit<LoadConfig, 'address'> {
  const { profile: _profile, ...rest } = opts;
  return rest;
}
