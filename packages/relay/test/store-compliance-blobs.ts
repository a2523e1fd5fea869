/**
 * The blob part of the store compliance suite (issue 17, decision 0048): what blob-commands.ts
 * relies on from a BlobStore, run against SQLite with files in the data folder, PostgreSQL with
 * bytea chunks and PostgreSQL with chunks in a shared folder (store-compliance-blobs.test.ts).
 * A backend gives a fresh, empty place and opens stores there (again after a close; two at
 * once when `shared`, as two relay processes would).
 */
import { randomBytes } from 'node:crypto';
import {
  BLOB_CHUNK_BYTES,
  AuthError,
  ExpiredError,
  NotFoundError,
  ProtocolError,
  QuotaError,
  StorageError,
  VerificationError,
  blobChunkCount,
  hash,
  initCrypto,
} from '@parus/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BlobStore, BlobStoreKind } from '../src/blob-store.ts';

export interface BlobLimits {
  maxBlobBytes: number;
  maxTotalBytes: number;
  uploadTtlMs: number;
  blobTtlMs: number;
}

export interface BlobBackend {
  name: string;
  kind: BlobStoreKind;
  /** Whether two stores may be open at once on one place (several relay processes). */
  shared: boolean;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  fresh(): Promise<void>;
  open(limits: BlobLimits): Promise<{ blobs: BlobStore; close(): Promise<void> }>;
  /** The chunk files in the current place, for a backend that keeps its chunks as files. */
  files?(): string[];
}

const DEFAULT_LIMITS: BlobLimits = {
  maxBlobBytes: 4 * BLOB_CHUNK_BYTES,
  maxTotalBytes: 16 * BLOB_CHUNK_BYTES,
  uploadTtlMs: 1000,
  blobTtlMs: 10_000,
};

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const id = (): Uint8Array => bytes(16);
const accept = (): void => {};
const chunkOf = (data: Uint8Array, n: number): Uint8Array =>
  data.subarray(n * BLOB_CHUNK_BYTES, Math.min(data.length, (n + 1) * BLOB_CHUNK_BYTES));

async function upload(s: BlobStore, data: Uint8Array, now = 1000): Promise<Uint8Array> {
  const bid = id();
  await s.create(bid, bytes(32), bytes(32), data.length, now);
  for (let n = 0; n < blobChunkCount(data.length); n++) await s.put(bid, n, chunkOf(data, n), now, accept);
  await s.finish(bid, hash(data, 32), now, accept);
  return bid;
}

async function download(s: BlobStore, bid: Uint8Array, now = 1000): Promise<Uint8Array> {
  const blob = await s.get(bid, now);
  const parts: Uint8Array[] = [];
  for (let n = 0; n < blobChunkCount(blob.size); n++) parts.push(await s.read(blob, n));
  return new Uint8Array(Buffer.concat(parts));
}

/** The promise of a call that may throw at once or reject. */
const settle = <T>(run: () => T | Promise<T>): Promise<T> => Promise.resolve().then(run);

export function blobCompliance(backend: BlobBackend): void {
  describe(`blob store compliance: ${backend.name}`, () => {
    const opened: { close(): Promise<void> }[] = [];
    const open = async (limits: Partial<BlobLimits> = {}): Promise<BlobStore> => {
      const o = await backend.open({ ...DEFAULT_LIMITS, ...limits });
      opened.push(o);
      return o.blobs;
    };
    const closeAll = async (): Promise<void> => {
      for (const o of opened.splice(0)) await o.close().catch(() => {});
    };

    beforeAll(async () => {
      await initCrypto();
      await backend.setup();
    }, 120_000);
    afterAll(async () => {
      await closeAll();
      await backend.teardown();
    }, 60_000);
    beforeEach(() => backend.fresh(), 60_000);
    afterEach(closeAll, 60_000);

    it('takes chunks in order (again after a lost ok), checks the hash, serves them back', async () => {
      const s = await open();
      expect(s.kind).toBe(backend.kind);
      const data = bytes(2 * BLOB_CHUNK_BYTES + 100);
      const bid = id();
      const created = await s.create(bid, bytes(32), bytes(32), data.length, 1000);
      expect(created).toMatchObject({ size: data.length, have: 0, done: false, expires: 2000 });
      await expect(settle(() => s.put(bid, 1, chunkOf(data, 1), 1000, accept))).rejects.toBeInstanceOf(
        ProtocolError,
      );
      await s.put(bid, 0, chunkOf(data, 0), 1000, accept);
      await s.put(bid, 0, chunkOf(data, 0), 1000, accept);
      expect(s.storedBytes).toBe(BLOB_CHUNK_BYTES);
      await expect(settle(() => s.finish(bid, hash(data, 32), 1000, accept))).rejects.toBeInstanceOf(
        ProtocolError,
      );
      await s.put(bid, 1, chunkOf(data, 1), 1000, accept);
      await s.put(bid, 2, chunkOf(data, 2), 1000, accept);
      await expect(settle(() => s.read(created, 0))).rejects.toBeInstanceOf(ProtocolError);
      const done = await s.finish(bid, hash(data, 32), 1500, accept);
      expect(done).toMatchObject({ done: true, have: 3, expires: 11_500 });
      expect(await s.get(bid, 1500)).toMatchObject({ done: true, have: 3 });
      await expect(settle(() => s.put(bid, 3, bytes(1), 1500, accept))).rejects.toBeInstanceOf(ProtocolError);
      expect(await download(s, bid, 1500)).toEqual(data);
      await expect(settle(() => s.read(done, 3))).rejects.toBeInstanceOf(NotFoundError);
      expect(s.count).toBe(1);
      expect(s.storedBytes).toBe(data.length);
      // Finishing again with the right hash answers the same; a wrong one changes nothing.
      await s.finish(bid, hash(data, 32), 1600, accept);
      await expect(settle(() => s.finish(bid, bytes(32), 1600, accept))).rejects.toBeInstanceOf(
        VerificationError,
      );
      expect(await download(s, bid, 1600)).toEqual(data);
    });

    it('deletes a blob whose hash does not match, and a blob its uploader deletes', async () => {
      const s = await open();
      const data = bytes(BLOB_CHUNK_BYTES + 7);
      const bid = id();
      await s.create(bid, bytes(32), bytes(32), data.length, 1000);
      await s.put(bid, 0, chunkOf(data, 0), 1000, accept);
      await s.put(bid, 1, chunkOf(data, 1), 1000, accept);
      await expect(settle(() => s.finish(bid, bytes(32), 1000, accept))).rejects.toBeInstanceOf(
        VerificationError,
      );
      await expect(settle(() => s.get(bid, 1000))).rejects.toBeInstanceOf(NotFoundError);
      expect(s.storedBytes).toBe(0);
      expect(s.count).toBe(0);
      const kept = await upload(s, data);
      await s.delete(kept, 1000, accept);
      await expect(settle(() => s.get(kept, 1000))).rejects.toBeInstanceOf(NotFoundError);
      await expect(settle(() => s.delete(kept, 1000, accept))).rejects.toBeInstanceOf(NotFoundError);
      expect(s.storedBytes).toBe(0);
    });

    it("a refused check changes nothing (the uploader's authenticator)", async () => {
      const s = await open();
      const data = bytes(100);
      const bid = id();
      await s.create(bid, bytes(32), bytes(32), data.length, 1000);
      const refuse = (): void => {
        throw new AuthError('bad authenticator');
      };
      await expect(settle(() => s.put(bid, 0, data, 1000, refuse))).rejects.toBeInstanceOf(AuthError);
      expect((await s.get(bid, 1000)).have).toBe(0);
      expect(s.storedBytes).toBe(0);
      await s.put(bid, 0, data, 1000, accept);
      await expect(settle(() => s.finish(bid, hash(data, 32), 1000, refuse))).rejects.toBeInstanceOf(
        AuthError,
      );
      await expect(settle(() => s.delete(bid, 1000, refuse))).rejects.toBeInstanceOf(AuthError);
      expect(await s.get(bid, 1000)).toMatchObject({ have: 1, done: false });
    });

    it('refuses a blob over the size limit, and blobs and chunks over the total (QuotaError)', async () => {
      const s = await open({ maxBlobBytes: 3 * BLOB_CHUNK_BYTES, maxTotalBytes: 4 * BLOB_CHUNK_BYTES });
      await expect(
        settle(() => s.create(id(), bytes(32), bytes(32), 3 * BLOB_CHUNK_BYTES + 1, 1000)),
      ).rejects.toBeInstanceOf(QuotaError);
      expect(s.count).toBe(0);
      const first = await upload(s, bytes(2 * BLOB_CHUNK_BYTES));
      // A blob must fit now; announced sizes hold nothing back, the chunks are counted.
      await expect(
        settle(() => s.create(id(), bytes(32), bytes(32), 3 * BLOB_CHUNK_BYTES, 1000)),
      ).rejects.toBeInstanceOf(QuotaError);
      const a = id();
      const b = id();
      await s.create(a, bytes(32), bytes(32), 2 * BLOB_CHUNK_BYTES, 1000);
      await s.create(b, bytes(32), bytes(32), BLOB_CHUNK_BYTES, 1000);
      await s.put(a, 0, bytes(BLOB_CHUNK_BYTES), 1000, accept);
      await s.put(a, 1, bytes(BLOB_CHUNK_BYTES), 1000, accept);
      await expect(settle(() => s.put(b, 0, bytes(BLOB_CHUNK_BYTES), 1000, accept))).rejects.toBeInstanceOf(
        QuotaError,
      );
      expect((await s.get(b, 1000)).have).toBe(0);
      expect(s.storedBytes).toBe(4 * BLOB_CHUNK_BYTES);
      await s.delete(first, 1000, accept);
      await s.put(b, 0, bytes(BLOB_CHUNK_BYTES), 1000, accept);
      expect(s.storedBytes).toBe(3 * BLOB_CHUNK_BYTES);
    });

    it('expires unfinished uploads and finished blobs, and purges them', async () => {
      const s = await open();
      const finished = await upload(s, bytes(300), 1000);
      const pending = id();
      await s.create(pending, bytes(32), bytes(32), 300, 1000);
      await s.put(pending, 0, bytes(300), 1000, accept);
      await expect(settle(() => s.get(pending, 2000))).rejects.toBeInstanceOf(ExpiredError);
      await expect(settle(() => s.put(pending, 0, bytes(300), 2000, accept))).rejects.toBeInstanceOf(
        ExpiredError,
      );
      expect(await s.purgeExpired(2000)).toBe(1);
      await expect(settle(() => s.get(pending, 2000))).rejects.toBeInstanceOf(NotFoundError);
      expect((await s.get(finished, 10_999)).done).toBe(true);
      await expect(settle(() => s.get(finished, 11_000))).rejects.toBeInstanceOf(ExpiredError);
      expect(await s.purgeExpired(11_000)).toBe(1);
      expect(s.count).toBe(0);
      expect(s.storedBytes).toBe(0);
      // Chunk files go with their blobs.
      if (backend.files) expect(backend.files()).toEqual([]);
    });

    it('keeps finished blobs across close and reopen; a closed store refuses with StorageError', async () => {
      const s = await open();
      const data = bytes(BLOB_CHUNK_BYTES + 1);
      const bid = await upload(s, data);
      await closeAll();
      await expect(settle(() => s.get(bid, 1000))).rejects.toBeInstanceOf(StorageError);
      const again = await open();
      expect(again.count).toBe(1);
      expect(again.storedBytes).toBe(data.length);
      expect(await download(again, bid)).toEqual(data);
    });

    it.runIf(backend.shared)(
      'two stores on one place: uploaded through one, read and deleted through the other',
      async () => {
        const [a, b] = await Promise.all([open(), open()]);
        const data = bytes(2 * BLOB_CHUNK_BYTES + 3);
        const bid = id();
        await a.create(bid, bytes(32), bytes(32), data.length, 1000);
        await a.put(bid, 0, chunkOf(data, 0), 1000, accept);
        // The upload resumes through the other process.
        expect((await b.get(bid, 1000)).have).toBe(1);
        await b.put(bid, 1, chunkOf(data, 1), 1000, accept);
        await a.put(bid, 2, chunkOf(data, 2), 1000, accept);
        await b.finish(bid, hash(data, 32), 1000, accept);
        expect(await download(a, bid)).toEqual(data);
        await a.delete(bid, 1000, accept);
        await expect(settle(() => b.get(bid, 1000))).rejects.toBeInstanceOf(NotFoundError);
      },
    );

    it.runIf(backend.shared)('the total budget holds across stores writing at once', async () => {
      const limits = { maxTotalBytes: 5 * BLOB_CHUNK_BYTES };
      const [a, b] = await Promise.all([open(limits), open(limits)]);
      const ids = await Promise.all(
        [a, b, a, b, a, b, a, b].map(async (s) => {
          const bid = id();
          await s.create(bid, bytes(32), bytes(32), BLOB_CHUNK_BYTES, 1000);
          return bid;
        }),
      );
      const results = await Promise.allSettled(
        ids.map((bid, i) => (i % 2 === 0 ? a : b).put(bid, 0, bytes(BLOB_CHUNK_BYTES), 1000, accept)),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
      const refused = results.filter((r) => r.status === 'rejected');
      expect(refused).toHaveLength(3);
      for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(QuotaError);
      await a.purgeExpired(0);
      expect(a.storedBytes).toBe(5 * BLOB_CHUNK_BYTES);
      // A refused chunk leaves no file behind.
      if (backend.files) expect(backend.files()).toHaveLength(5);
    });
  });
}
