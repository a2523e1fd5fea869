/** The machine a benchmark ran on, for the report. */
import { readFile } from 'node:fs/promises';
import { cpus, release, totalmem, type } from 'node:os';

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
