// Blobs shared by relay processes on one PostgreSQL store (--blobs, decision 0048): a file
// uploaded through one process (real relays, real WebSockets, the test's own PostgreSQL)
// resumes and downloads through another, with the chunks as bytea rows or in a shared folder;
// /status.json says where blobs are; `blobs` without a PostgreSQL store is a UsageError.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BLOB_CHUNK_BYTES,
  UsageError,
  generateDhKeyPair,
  hash,
  initCrypto,
  systemRandom,
  type ChunkFrame,
  type DhKeyPair,
} from '@parus/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BLOB_DATABASE_FILE, BLOB_FOLDER, startRelay } from '../src/index.ts';
import type { Relay } from '../src/index.ts';
import { POSTGRES_MISSING, postgresAvailable, startPostgresServer } from './support/postgres-server.ts';
import type { PostgresServer } from './support/postgres-server.ts';
import { TestClient } from './test-client.ts';

describe('relay --blobs without a PostgreSQL store', () => {
  it('is refused with a UsageError, creating nothing', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'parus-relay-blobs-'));
    try {
      const dataDir = join(tmp, 'data');
      for (const blobs of ['postgres', join(tmp, 'shared')]) {
        await expect(startRelay({ port: 0, dataDir, blobs })).rejects.toBeInstanceOf(UsageError);
      }
      expect(existsSync(dataDir)).toBe(false);
      expect(existsSync(join(tmp, 'shared'))).toBe(false);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!postgresAvailable)('relays sharing blobs on one PostgreSQL store', () => {
  let server: PostgresServer;
  let tmp: string;
  let secret: string;
  let databases = 0;
  const relays: Relay[] = [];
  const dataDirs: string[] = [];
  const clients: TestClient[] = [];

  const start = async (store: string, blobs?: string): Promise<Relay> => {
    const dataDir = mkdtempSync(join(tmp, 'data-'));
    dataDirs.push(dataDir);
    const relay = await startRelay({
      port: 0,
      dataDir,
      store,
      keySecret: secret,
      ...(blobs !== undefined ? { blobs } : {}),
    });
    relays.push(relay);
    return relay;
  };
  const connect = async (relay: Relay): Promise<TestClient> => {
    const client = await TestClient.connect(relay.address);
    clients.push(client);
    return client;
  };
  const blobsAt = async (relay: Relay): Promise<string> =>
    ((await (await fetch(`http://127.0.0.1:${relay.port}/status.json`)).json()) as { blobs: string }).blobs;

  /** Uploads `data` in chunks, the first half through `first`, the rest and the finish through `second`. */
  async function upload(
    first: TestClient,
    second: TestClient,
    data: Uint8Array,
  ): Promise<{ bid: Uint8Array; dk: DhKeyPair }> {
    const uk = generateDhKeyPair(systemRandom);
    const dk = generateDhKeyPair(systemRandom);
    const created = await first.request(
      first.authed({ t: 'bnew', uk: uk.publicKey, dk: dk.publicKey, size: data.length }, uk),
    );
    if (created.t !== 'blob') throw new Error(`bnew failed: ${JSON.stringify(created)}`);
    const count = Math.ceil(data.length / BLOB_CHUNK_BYTES);
    for (let n = 0; n < count; n++) {
      const c = n < count / 2 ? first : second;
      const part = data.subarray(n * BLOB_CHUNK_BYTES, Math.min(data.length, (n + 1) * BLOB_CHUNK_BYTES));
      expect(await c.request(c.authed({ t: 'bput', bid: created.bid, n, data: part }, uk))).toMatchObject({
        t: 'ok',
      });
    }
    const fin = await second.request(
      second.authed({ t: 'bfin', bid: created.bid, hash: hash(data, 32) }, uk),
    );
    expect(fin).toMatchObject({ t: 'blob', done: true, have: count });
    return { bid: created.bid, dk };
  }

  async function download(c: TestClient, bid: Uint8Array, dk: DhKeyPair, size: number): Promise<Uint8Array> {
    const out = new Uint8Array(size);
    for (let n = 0; n < Math.ceil(size / BLOB_CHUNK_BYTES); n++) {
      const r = await c.request(c.authed({ t: 'bget', bid, n }, dk));
      expect(r.t).toBe('chunk');
      out.set((r as ChunkFrame).data, n * BLOB_CHUNK_BYTES);
    }
    return out;
  }

  beforeAll(async () => {
    await initCrypto();
    server = await startPostgresServer();
    tmp = mkdtempSync(join(tmpdir(), 'parus-relay-pg-blobs-'));
    secret = join(tmp, 'key-secret');
    writeFileSync(secret, randomBytes(32), { mode: 0o600 });
  }, 120_000);
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await Promise.all(relays.splice(0).map((r) => r.close()));
    dataDirs.splice(0);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('bytea chunks (the default): a file uploaded through one process downloads through the other', async () => {
    const url = await server.createDatabase(`blobs_${++databases}`);
    const [a, b] = await Promise.all([start(url), start(url)]);
    expect(await blobsAt(a)).toBe('postgres');
    const data = new Uint8Array(randomBytes(3 * BLOB_CHUNK_BYTES + 11));
    const { bid, dk } = await upload(await connect(b), await connect(a), data);
    expect(await download(await connect(a), bid, dk, data.length)).toEqual(data);
    expect(await download(await connect(b), bid, dk, data.length)).toEqual(data);
    // The last process to write (a) knows the total across both; nothing is in a data folder.
    expect(a.stats().blobBytes).toBe(data.length);
    for (const dir of dataDirs) {
      expect(existsSync(join(dir, BLOB_FOLDER))).toBe(false);
      expect(existsSync(join(dir, BLOB_DATABASE_FILE))).toBe(false);
    }
  });

  it('chunks in a shared folder: the same across processes, the chunk files in that folder', async () => {
    const url = await server.createDatabase(`blobs_${++databases}`);
    const shared = mkdtempSync(join(tmp, 'shared-'));
    const [a, b] = await Promise.all([start(url, shared), start(url, shared)]);
    expect(await blobsAt(b)).toBe('folder');
    const data = new Uint8Array(randomBytes(2 * BLOB_CHUNK_BYTES + 5));
    const { bid, dk } = await upload(await connect(b), await connect(a), data);
    expect(readdirSync(shared).filter((f) => !f.startsWith('.'))).toHaveLength(3);
    expect(await download(await connect(a), bid, dk, data.length)).toEqual(data);
  });

  it('a relay on SQLite says its blobs are there', async () => {
    const relay = await startRelay({ port: 0, dataDir: mkdtempSync(join(tmp, 'data-')) });
    relays.push(relay);
    expect(await blobsAt(relay)).toBe('sqlite');
  });
});

describe.skipIf(postgresAvailable)('relays sharing blobs on one PostgreSQL store', () => {
  it.skip(POSTGRES_MISSING, () => {});
});
