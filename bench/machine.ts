/** The machine a benchmark ran on, and the state of the tree it measured, for the report. */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus, release, totalmem, type } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Machine {
  cpu: string;
  cores: number;
  memoryBytes: number;
  node: string;
  os: string;
  date: string;
}

async function readOr(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

export async function describeMachine(): Promise<Machine> {
  const cpuinfo = await readOr('/proc/cpuinfo');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const osRelease = await readOr('/etc/os-release');
  const distro = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1];
  return {
    cpu: model,
    cores: cpus().length,
    memoryBytes: totalmem(),
    node: process.version,
    os: `${distro ? `${distro}, ` : ''}${type()} ${release()}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

/** The share of a core a busy loop gets for `ms`: how much of its CPU the host is handing out. */
export function cpuAvailability(ms: number): number {
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

export interface GitState {
  commit: string;
  /** Uncommitted changes in the code under test. */
  dirty: number;
  fingerprint: string;
}

/** HEAD, and the uncommitted state of the code under test (which others may be editing). */
export function gitState(): GitState {
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
