// The blob compliance suite (store-compliance-blobs.ts) on the three places blobs can be kept:
// SQLite and files in a temporary data folder, PostgreSQL bytea chunks, and PostgreSQL with
// the chunks in a shared folder, each PostgreSQL one on a server of the test's own
// (support/postgres-server.ts), skipped with a message only when PostgreSQL is not installed.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { PostgresBackend } from '../src/stores/open-stores.ts';
import { SqliteBlobStore } from '../src/stores/sqlite/blob-store.ts';
import { POSTGRES_MISSING, postgresAvailable, startPostgresServer } from './support/postgres-server.ts';
import type { PostgresServer } from './support/postgres-server.ts';
import { blobCompliance } from './store-compliance-blobs.ts';
import type { BlobBackend } from './store-compliance-blobs.ts';

const dirs: string[] = [];
let dir = '';
const freshDir = async (): Promise<void> => {
  dir = mkdtempSync(join(tmpdir(), 'parus-blob-compliance-'));
  dirs.push(dir);
};
const removeDirs = async (): Promise<void> => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
};

blobCompliance({
  name: 'sqlite',
  kind: 'sqlite',
  shared: false,
  setup: async () => {},
  teardown: removeDirs,
  fresh: freshDir,
  async open(limits) {
    const blobs = new SqliteBlobStore({ ...limits, dataDir: dir });
    return { blobs, close: () => blobs.close() };
  },
});

function postgres(folder: boolean): BlobBackend {
  let server: PostgresServer | undefined;
  let url = '';
  let n = 0;
  return {
    name: folder ? 'postgres, chunks in a shared folder' : 'postgres, bytea chunks',
    kind: folder ? 'folder' : 'postgres',
    shared: true,
    async setup() {
      server = await startPostgresServer();
    },
    async teardown() {
      await server?.stop();
      await removeDirs();
    },
    ...(folder ? { files: () => readdirSync(dir) } : {}),
    async fresh() {
      n += 1;
      url = await server!.createDatabase(`blobs_${n}`);
      await freshDir();
    },
    async open(limits) {
      const backend = await PostgresBackend.connect(url);
      try {
        const blobs = await backend.blobs({ ...limits, ...(folder ? { folder: dir } : {}) });
        return {
          blobs,
          close: async () => {
            await blobs.close();
            await backend.close();
          },
        };
      } catch (error) {
        await backend.close();
        throw error;
      }
    },
  };
}

if (postgresAvailable) {
  blobCompliance(postgres(false));
  blobCompliance(postgres(true));
} else {
  describe('blob store compliance: postgres', () => {
    it.skip(POSTGRES_MISSING, () => {});
  });
}
