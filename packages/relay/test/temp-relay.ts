/** Starts real relays on port 0 in temporary folders, and removes the folders afterwards. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelay } from '../src/index.ts';
import type { Relay, RelayOptions } from '../src/index.ts';

export interface TempRelays {
  /** A fresh data folder, removed by cleanup(). */
  dir(): string;
  /** Starts a relay (in a fresh folder unless `dataDir` is given); cleanup() closes it. */
  start(opts?: Partial<RelayOptions>): Promise<Relay>;
  cleanup(): Promise<void>;
}

export function tempRelays(): TempRelays {
  const dirs: string[] = [];
  const relays: Relay[] = [];
  const dir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'parus-relay-test-'));
    dirs.push(d);
    return d;
  };
  return {
    dir,
    async start(opts = {}) {
      const relay = await startRelay({ port: 0, ...opts, dataDir: opts.dataDir ?? dir() });
      relays.push(relay);
      return relay;
    },
    async cleanup() {
      await Promise.all(relays.splice(0).map((r) => r.close()));
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}
