/**
 * Starts real relays on port 0 in temporary folders, and removes the folders afterwards.
 * With the store set to 'postgres' (useStore, before tempRelays is called: the relay tests
 * that run again on PostgreSQL, e.g. queue-flow-postgres.test.ts), every relay keeps its
 * queues in a PostgreSQL server of the file's own (support/postgres-server.ts), one database
 * per data folder, so a relay started again on the same folder finds its queues.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { startRelay } from '../src/index.ts';
import type { Relay, RelayOptions } from '../src/index.ts';
import { startPostgresServer } from './support/postgres-server.ts';
import type { PostgresServer } from './support/postgres-server.ts';

export interface TempRelays {
  /** A fresh data folder, removed by cleanup(). */
  dir(): string;
  /** Starts a relay (in a fresh folder unless `dataDir` is given); cleanup() closes it. */
  start(opts?: Partial<RelayOptions>): Promise<Relay>;
  cleanup(): Promise<void>;
}

export type TestStore = 'sqlite' | 'postgres';
let defaultStore: TestStore = 'sqlite';

/** The store the relays of tempRelays() calls made after this one use. */
export function useStore(store: TestStore): void {
  defaultStore = store;
}

/** A PostgreSQL server for this file's relays, started at the first relay, stopped after the file. */
function postgresForFile(): { database(dataDir: string): Promise<string>; keySecret: string } {
  let server: Promise<PostgresServer> | undefined;
  const databases = new Map<string, string>();
  const secretDir = mkdtempSync(join(tmpdir(), 'parus-relay-secret-'));
  const keySecret = join(secretDir, 'key-secret');
  writeFileSync(keySecret, randomBytes(32), { mode: 0o600 });
  chmodSync(keySecret, 0o600);
  afterAll(async () => {
    if (server) await (await server).stop();
    rmSync(secretDir, { recursive: true, force: true });
  }, 60_000);
  return {
    keySecret,
    async database(dataDir) {
      server ??= startPostgresServer();
      const known = databases.get(dataDir);
      if (known) return known;
      const url = await (await server).createDatabase(`relay_${databases.size + 1}`);
      databases.set(dataDir, url);
      return url;
    },
  };
}

export function tempRelays(): TempRelays {
  const dirs: string[] = [];
  const relays: Relay[] = [];
  const postgres = defaultStore === 'postgres' ? postgresForFile() : undefined;
  const dir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'parus-relay-test-'));
    dirs.push(d);
    return d;
  };
  return {
    dir,
    async start(opts = {}) {
      const dataDir = opts.dataDir ?? dir();
      const store =
        postgres && opts.store === undefined
          ? { store: await postgres.database(dataDir), keySecret: postgres.keySecret }
          : {};
      const relay = await startRelay({ port: 0, ...store, ...opts, dataDir });
      relays.push(relay);
      return relay;
    },
    async cleanup() {
      await Promise.all(relays.splice(0).map((r) => r.close()));
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}
