/** Small numeric helpers shared by the benchmark modules. */
import type { LatencySummary } from './ipc.ts';

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarise(samples: Float64Array): LatencySummary {
  const sorted = samples.slice().sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN,
    mean: sorted.length > 0 ? sum / sorted.length : NaN,
  };
}

/** A growable list of doubles with a hard cap, so a long run cannot eat memory without bound. */
export class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;
  dropped = 0;

  constructor(private readonly cap: number) {}

  push(value: number): void {
    if (this.length === this.data.length) {
      if (this.length >= this.cap) {
        this.dropped += 1;
        return;
      }
      const next = new Float64Array(Math.min(this.cap, this.data.length * 2));
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }

  values(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

/** Formats a count with thousands separators (the doc is in English). */
export function int(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

export function fixed(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(0)} MiB`;
}
