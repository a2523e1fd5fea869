// Blobs on a real relay over real WebSockets (port 0, temporary data folder): chunked and
// resumable uploads, the hash check at the end, limits, quota, expiry, and bad frames.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BLOB_CHUNK_BYTES,
  generateDhKeyPair,
  hash,
  initCrypto,
  systemRandom,
  toHex,
  type BlobFrame,
  type ChunkFrame,
  type DhKeyPair,
  type RelayFrame,
} from '@parus/core';
import { BLOB_FOLDER } from '../src/index.ts';
import { tempRelays } from './temp-relay.ts';
import { TestClient, withTimeout } from './test-client.ts';

const relays = tempRelays();
beforeAll(() => initCrypto());
afterEach(() => relays.cleanup());

interface Upload {
  uk: DhKeyPair;
  dk: DhKeyPair;
  bid: Uint8Array;
  data: Uint8Array;
}

function chunk(data: Uint8Array, n: number): Uint8Array {
  return data.subarray(n * BLOB_CHUNK_BYTES, Math.min(data.length, (n + 1) * BLOB_CHUNK_BYTES));
}

async function create(c: TestClient, size: number): Promise<RelayFrame & { uk: DhKeyPair; dk: DhKeyPair }> {
  const uk = generateDhKeyPair(systemRandom);
  const dk = generateDhKeyPair(systemRandom);
  const reply = await c.request(c.authed({ t: 'bnew', uk: uk.publicKey, dk: dk.publicKey, size }, uk));
  return Object.assign(reply, { uk, dk });
}

async function start(c: TestClient, data: Uint8Array): Promise<Upload> {
  const r = await create(c, data.length);
  if (r.t !== 'blob') throw new Error(`bnew failed: ${JSON.stringify(r)}`);
  expect(r).toMatchObject({ have: 0, done: false, size: data.length });
  return { uk: r.uk, dk: r.dk, bid: r.bid, data };
}

function put(c: TestClient, u: Upload, n: number, data = chunk(u.data, n)): Promise<RelayFrame> {
  return c.request(c.authed({ t: 'bput', bid: u.bid, n, data }, u.uk));
}

function stat(c: TestClient, u: Upload): Promise<RelayFrame> {
  return c.request(c.authed({ t: 'bstat', bid: u.bid }, u.uk));
}

function fin(c: TestClient, u: Upload, h = hash(u.data, 32)): Promise<RelayFrame> {
  return c.request(c.authed({ t: 'bfin', bid: u.bid, hash: h }, u.uk));
}

function get(c: TestClient, u: Upload, n: number, key = u.dk): Promise<RelayFrame> {
  return c.request(c.authed({ t: 'bget', bid: u.bid, n }, key));
}

async function download(c: TestClient, u: Upload): Promise<Uint8Array> {
  const out = new Uint8Array(u.data.length);
  const count = Math.ceil(u.data.length / BLOB_CHUNK_BYTES);
  for (let n = 0; n < count; n++) {
    const r = await get(c, u, n);
    expect(r.t).toBe('chunk');
    out.set((r as ChunkFrame).data, n * BLOB_CHUNK_BYTES);
  }
  return out;
}

function blobFiles(dir: string): string[] {
  return readdirSync(join(dir, BLOB_FOLDER));
}

describe('relay blobs', () => {
  it('takes an upload in chunks, resumes it on a new connection, checks the hash, serves it back', async () => {
    const relay = await relays.start();
    const data = systemRandom.bytes(BLOB_CHUNK_BYTES * 2 + 1234);
    const first = await TestClient.connect(relay.address);
    const u = await start(first, data);
    expect(await put(first, u, 0)).toMatchObject({ t: 'ok' });
    await first.close();

    // A restarted client asks what the relay has and continues from there.
    const second = await TestClient.connect(relay.address);
    expect(await stat(second, u)).toMatchObject({ t: 'blob', have: 1, done: false });
    expect(await put(second, u, 0)).toMatchObject({ t: 'ok' }); // already stored: accepted, not rewritten
    expect(await put(second, u, 1)).toMatchObject({ t: 'ok' });
    expect(await put(second, u, 2)).toMatchObject({ t: 'ok' });
    const done = (await fin(second, u)) as BlobFrame;
    expect(done).toMatchObject({ t: 'blob', have: 3, done: true });
    expect(relay.stats()).toMatchObject({ blobs: 1, blobBytes: data.length });

    const reader = await TestClient.connect(relay.address);
    expect(toHex(await download(reader, u))).toBe(toHex(data));
    // The upload key does not open downloads, nor the download key uploads.
    expect(await get(reader, u, 0, u.uk)).toMatchObject({ t: 'err', code: 'AUTH' });
    expect(await reader.request(reader.authed({ t: 'bstat', bid: u.bid }, u.dk))).toMatchObject({
      t: 'err',
      code: 'AUTH',
    });
    expect(await get(reader, u, 3)).toMatchObject({ t: 'err', code: 'NOT_FOUND' });
    await Promise.all([second.close(), reader.close()]);
  });

  it('rejects and deletes a blob whose hash does not match', async () => {
    const dataDir = relays.dir();
    const relay = await relays.start({ dataDir });
    const c = await TestClient.connect(relay.address);
    const u = await start(c, systemRandom.bytes(5000));
    await put(c, u, 0);
    expect(blobFiles(dataDir)).toHaveLength(1);
    const wrong = hash(u.data, 32);
    wrong[0]! ^= 1;
    expect(await fin(c, u, wrong)).toMatchObject({ t: 'err', code: 'VERIFICATION' });
    expect(await stat(c, u)).toMatchObject({ t: 'err', code: 'NOT_FOUND' });
    expect(blobFiles(dataDir)).toHaveLength(0);
    expect(relay.stats()).toMatchObject({ blobs: 0, blobBytes: 0 });
    await c.close();
  });

  it('refuses a blob over the size limit, and blobs and chunks over the total quota', async () => {
    const relay = await relays.start({
      limits: { maxBlobBytes: 3 * BLOB_CHUNK_BYTES, maxBlobTotalBytes: 4 * BLOB_CHUNK_BYTES },
    });
    const c = await TestClient.connect(relay.address);
    expect(await create(c, 3 * BLOB_CHUNK_BYTES + 1)).toMatchObject({ t: 'err', code: 'QUOTA' });
    // Announcing blobs holds no space; storing chunks does.
    const big = await start(c, systemRandom.bytes(3 * BLOB_CHUNK_BYTES));
    const other = await start(c, systemRandom.bytes(2 * BLOB_CHUNK_BYTES));
    for (const n of [0, 1, 2]) expect(await put(c, big, n)).toMatchObject({ t: 'ok' });
    expect(await fin(c, big)).toMatchObject({ t: 'blob', done: true });
    expect(relay.stats()).toMatchObject({ blobs: 2, blobBytes: 3 * BLOB_CHUNK_BYTES });
    expect(await create(c, BLOB_CHUNK_BYTES + 1)).toMatchObject({ t: 'err', code: 'QUOTA' });
    expect(await put(c, other, 0)).toMatchObject({ t: 'ok' });
    expect(await put(c, other, 1)).toMatchObject({ t: 'err', code: 'QUOTA' });
    expect(await stat(c, other)).toMatchObject({ t: 'blob', have: 1 });
    expect(relay.stats()).toMatchObject({ blobBytes: 4 * BLOB_CHUNK_BYTES });
    await c.close();
  });

  it('answers EXPIRED after the expiry and purges the blob and its file', async () => {
    let clock = Date.now();
    const dataDir = relays.dir();
    const relay = await relays.start({ dataDir, now: () => clock, limits: { purgeIntervalMs: 20 } });
    const c = await TestClient.connect(relay.address);
    const u = await start(c, systemRandom.bytes(100));
    await put(c, u, 0);
    const done = (await fin(c, u)) as BlobFrame;
    expect(done.expires).toBe(clock + 21 * 24 * 60 * 60 * 1000);
    expect(await get(c, u, 0)).toMatchObject({ t: 'chunk' });
    clock = done.expires;
    const after = await get(c, u, 0);
    // Either the purge already ran (NOT_FOUND) or the blob waits for it (EXPIRED).
    expect(['EXPIRED', 'NOT_FOUND']).toContain((after as { code?: string }).code);
    await withTimeout(
      (async () => {
        while (relay.stats().blobsExpired < 1) await new Promise((r) => setTimeout(r, 10));
      })(),
      'purge',
    );
    expect(blobFiles(dataDir)).toHaveLength(0);
    expect(await get(c, u, 0)).toMatchObject({ t: 'err', code: 'NOT_FOUND' });
    await c.close();
  });

  it('answers bad blob frames with errors and changes nothing', async () => {
    const dataDir = relays.dir();
    const relay = await relays.start({ dataDir });
    const c = await TestClient.connect(relay.address);
    const u = await start(c, systemRandom.bytes(BLOB_CHUNK_BYTES + 10));
    expect(await create(c, 0)).toMatchObject({ t: 'err', code: 'DECODE' });
    // Wrong length for chunk 0, a chunk beyond the next one, a chunk of another size.
    expect(await put(c, u, 0, u.data.subarray(0, 10))).toMatchObject({ t: 'err', code: 'DECODE' });
    expect(await put(c, u, 1)).toMatchObject({ t: 'err', code: 'PROTOCOL' });
    // Authenticated with the wrong key; for an unknown blob.
    expect(
      await c.request(c.authed({ t: 'bput', bid: u.bid, n: 0, data: chunk(u.data, 0) }, u.dk)),
    ).toMatchObject({ t: 'err', code: 'AUTH' });
    expect(await put(c, { ...u, bid: systemRandom.bytes(32) }, 0)).toMatchObject({
      t: 'err',
      code: 'NOT_FOUND',
    });
    // Finishing early, downloading early.
    expect(await fin(c, u)).toMatchObject({ t: 'err', code: 'PROTOCOL' });
    expect(await get(c, u, 0)).toMatchObject({ t: 'err', code: 'PROTOCOL' });
    // A bid of the wrong size does not decode.
    expect(await c.request(c.authed({ t: 'bstat', bid: new Uint8Array(5) }, u.uk))).toMatchObject({
      t: 'err',
      code: 'DECODE',
    });
    expect(await stat(c, u)).toMatchObject({ t: 'blob', have: 0, done: false });
    expect(await put(c, u, 0)).toMatchObject({ t: 'ok' });
    expect(await put(c, u, 1)).toMatchObject({ t: 'ok' });
    // A chunk past the end, even an empty one, is not part of the blob.
    expect(await put(c, u, 2, new Uint8Array(0))).toMatchObject({ t: 'err', code: 'PROTOCOL' });
    expect(await stat(c, u)).toMatchObject({ t: 'blob', have: 2, done: false });
    expect(await fin(c, u)).toMatchObject({ t: 'blob', done: true });
    expect(toHex(await download(c, u))).toBe(toHex(u.data));
    expect(existsSync(join(dataDir, BLOB_FOLDER, toHex(u.bid)))).toBe(true);
    // Only the upload key deletes a blob.
    expect(await c.request(c.authed({ t: 'bdel', bid: u.bid }, u.dk))).toMatchObject({
      t: 'err',
      code: 'AUTH',
    });
    expect(toHex(await download(c, u))).toBe(toHex(u.data));
    expect(await c.request(c.authed({ t: 'bdel', bid: u.bid }, u.uk))).toMatchObject({ t: 'ok' });
    expect(existsSync(join(dataDir, BLOB_FOLDER, toHex(u.bid)))).toBe(false);
    expect(await get(c, u, 0)).toMatchObject({ t: 'err', code: 'NOT_FOUND' });
    expect(relay.stats()).toMatchObject({ blobs: 0, blobBytes: 0 });
    await c.close();
  });

  it('refuses chunks over the per-connection byte rate without storing them', async () => {
    // One chunk of burst and a trickle of refill: the second chunk at once is over the rate.
    const relay = await relays.start({
      limits: { blobByteBurst: BLOB_CHUNK_BYTES, blobBytesPerSecond: 1 },
    });
    const c = await TestClient.connect(relay.address);
    const u = await start(c, systemRandom.bytes(2 * BLOB_CHUNK_BYTES));
    expect(await put(c, u, 0)).toMatchObject({ t: 'ok' });
    expect(await put(c, u, 1)).toMatchObject({ t: 'err', code: 'QUOTA' });
    expect(await stat(c, u)).toMatchObject({ t: 'blob', have: 1 });
    // Another connection has its own bucket.
    const d = await TestClient.connect(relay.address);
    expect(await put(d, u, 1)).toMatchObject({ t: 'ok' });
    expect(await fin(d, u)).toMatchObject({ t: 'blob', done: true });
    await Promise.all([c.close(), d.close()]);
  });

  it('keeps finished blobs across a restart', async () => {
    const dataDir = relays.dir();
    const relay = await relays.start({ dataDir, port: 0 });
    const c = await TestClient.connect(relay.address);
    const u = await start(c, systemRandom.bytes(70_000));
    await put(c, u, 0);
    await put(c, u, 1);
    await fin(c, u);
    await c.close();
    await relay.close();
    const again = await relays.start({ dataDir });
    const d = await TestClient.connect(again.address);
    expect(toHex(await download(d, u))).toBe(toHex(u.data));
    expect(again.stats()).toMatchObject({ blobs: 1, blobBytes: 70_000 });
    await d.close();
  });
});
