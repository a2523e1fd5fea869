// The store compliance suite (store-compliance.ts) on both backends: SQLite in a temporary
// folder, PostgreSQL on a server of the test's own (support/postgres-server.ts), skipped with
// a message only when PostgreSQL is not installed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { PostgresBackend, openSqliteStores } from '../src/stores/open-stores.ts';
import { CardStore } from '../src/stores/sqlite/card-store.ts';
import { POSTGRES_MISSING, postgresAvailable, startPostgresServer } from './support/postgres-server.ts';
import type { PostgresServer } from './support/postgres-server.ts';
import { sealShared, storeCompliance } from './store-compliance.ts';

const dirs: string[] = [];
let dir = '';
storeCompliance({
  name: 'sqlite',
  async setup() {},
  async teardown() {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  },
  async fresh() {
    dir = mkdtempSync(join(tmpdir(), 'parus-compliance-'));
    dirs.push(dir);
  },
  async openCards(maxRecords) {
    const cards = new CardStore(dir, maxRecords);
    return { cards, close: async () => cards.close() };
  },
  async open(limits) {
    return openSqliteStores({
      ...limits,
      path: join(dir, 'q.sqlite'),
      ackWaitMs: 20,
      maxHeldBytes: 1 << 20,
      sealShared,
    });
  },
});

if (postgresAvailable) {
  let server: PostgresServer | undefined;
  let url = '';
  let n = 0;
  storeCompliance({
    name: 'postgres',
    async setup() {
      server = await startPostgresServer();
    },
    async teardown() {
      await server?.stop();
    },
    async fresh() {
      n += 1;
      url = await server!.createDatabase(`compliance_${n}`);
    },
    async openCards(maxRecords) {
      const backend = await PostgresBackend.connect(url);
      return { cards: await backend.cards(maxRecords), close: () => backend.close() };
    },
    async open(limits) {
      const backend = await PostgresBackend.connect(url);
      return backend.stores({ ...limits, sealShared });
    },
  });
} else {
  describe('store compliance: postgres', () => {
    it.skip(POSTGRES_MISSING, () => {});
  });
}
