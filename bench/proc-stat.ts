/**
 * CPU time of another process, read from outside through /proc (Linux), so that a process
 * whose event loop is saturated is measured as precisely as an idle one.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU time of `pid` so far, in ms; NaN where /proc is not available. */
export function cpuTimeMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name sits in parentheses and may hold spaces: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 (utime) and 15 (stime) of proc(5); `fields` starts at field 3.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks / clockTicks()) * 1000;
  } catch {
    return NaN;
  }
}

/** Microseconds on CLOCK_MONOTONIC, the clock V8's CPU profiler stamps its samples with. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
