/**
 * Moving a blob's chunks to and from a relay (blob-protocol.ts, docs/decisions/0010-blobs.md)
 * over the account's authenticated relay connection, so the browser and Node share one path.
 *
 * Both directions keep a few chunks in flight, report progress in bytes, stop when the
 * AbortSignal fires, and ride out a lost connection or the relay's byte rate limit: they
 * wait for the connection, ask the relay where things stand, and go on from there. An
 * upload re-encrypts from the start (the file stream is deterministic) and sends only the
 * chunks the relay lacks.
 */
import {
  ParusError,
  ProtocolError,
  blobChunkCount,
  type BlobFrame,
  type ChunkFrame,
  type RelayFrame,
} from '@parus/core';
import type { RelayConnection } from './relay-connection.ts';

export interface TransferProgress {
  /** Bytes moved so far (of the encrypted blob). */
  done: number;
  total: number;
}

export interface TransferOptions {
  onProgress?: (progress: TransferProgress) => void;
  signal?: AbortSignal;
}

/**
 * Where a download's plaintext goes, chunk by chunk in order (Account.downloadFileTo): a file
 * on disk in the CLI. The next chunk waits until `write` settles.
 */
export interface FileSink {
  write(chunk: Uint8Array): void | Promise<void>;
}

/** Chunks in flight at once. */
const WINDOW = 4;
/** Failed rounds in a row (no chunk moved) before a transfer gives up. */
const MAX_FAILED_ROUNDS = 8;
const CONNECT_TIMEOUT_MS = 15_000;

/** Errors that may pass: the connection, a timeout, the relay's rate limit. */
function transient(e: unknown): boolean {
  return e instanceof ParusError && (e.code === 'TRANSPORT' || e.code === 'TIMEOUT' || e.code === 'QUOTA');
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function expect<T extends RelayFrame['t']>(frame: RelayFrame, t: T): Extract<RelayFrame, { t: T }> {
  if (frame.t !== t) throw new ProtocolError(`relay answered with ${frame.t} instead of ${t}`);
  return frame as Extract<RelayFrame, { t: T }>;
}

/**
 * Runs `round` until it finishes, retrying transient failures with a growing pause; a
 * round that moved something resets the count. A relay that cannot be reached within
 * CONNECT_TIMEOUT_MS ends the transfer at once (rounds call `connected` outside their catch).
 */
async function withRetries<T>(
  round: () => Promise<{ value: T } | { moved: boolean; error: unknown }>,
  signal?: AbortSignal,
): Promise<T> {
  let failures = 0;
  for (;;) {
    signal?.throwIfAborted();
    const r = await round();
    if ('value' in r) return r.value;
    if (!transient(r.error)) throw r.error;
    failures = r.moved ? 1 : failures + 1;
    if (failures > MAX_FAILED_ROUNDS) throw r.error;
    await pause(Math.min(2_000, 100 * 2 ** failures), signal);
  }
}

export interface UploadTarget {
  relay: RelayConnection;
  blob: Uint8Array;
  /** X25519 secret of the blob's upload key. */
  uk: Uint8Array;
  /** Ciphertext size and BLAKE2b-256. */
  size: number;
  hash: Uint8Array;
  /** The encrypted chunks from the first, produced afresh for each round. */
  chunks: () => Iterable<Uint8Array>;
}

/** Uploads what the relay lacks and finishes the blob; resolves with its final status. */
export async function uploadBlob(t: UploadTarget, opts: TransferOptions = {}): Promise<BlobFrame> {
  const { signal, onProgress } = opts;
  return withRetries(async () => {
    await t.relay.whenConnected(CONNECT_TIMEOUT_MS);
    let moved = false;
    try {
      const status = expect(await t.relay.command({ t: 'bstat', bid: t.blob }, t.uk), 'blob');
      if (!status.done) {
        let done = 0;
        let failure: { n: number; error: unknown } | undefined;
        const inflight: Array<Promise<void>> = [];
        let n = 0;
        for (const data of t.chunks()) {
          const index = n++;
          if (index < status.have) {
            done += data.length;
            continue;
          }
          if (failure) break;
          signal?.throwIfAborted();
          inflight.push(
            t.relay.command({ t: 'bput', bid: t.blob, n: index, data }, t.uk).then(
              () => {
                moved = true;
                done += data.length;
                onProgress?.({ done, total: t.size });
              },
              (error: unknown) => {
                if (!failure || index < failure.n) failure = { n: index, error };
              },
            ),
          );
          if (inflight.length >= WINDOW) await inflight.shift();
          if (index % 16 === 15) await pause(0, signal); // let the page (or the process) breathe
        }
        await Promise.all(inflight);
        // The lowest failed chunk says why; later ones failed because it was missing.
        if (failure) return { moved, error: (failure as { error: unknown }).error };
      }
      const finished = expect(await t.relay.command({ t: 'bfin', bid: t.blob, hash: t.hash }, t.uk), 'blob');
      onProgress?.({ done: t.size, total: t.size });
      return { value: finished };
    } catch (error) {
      signal?.throwIfAborted();
      return { moved, error };
    }
  }, signal);
}

export interface DownloadSource {
  relay: RelayConnection;
  blob: Uint8Array;
  /** X25519 secret of the blob's download key. */
  dk: Uint8Array;
  size: number;
  /**
   * Takes every chunk, in order, exactly once. A promise holds the next chunk back until it
   * settles (a disk write), so at most WINDOW chunks are ever held in memory.
   */
  take: (n: number, data: Uint8Array) => void | Promise<void>;
}

/** Fetches every chunk in order, resuming after the last one taken when a round fails. */
export async function downloadBlob(s: DownloadSource, opts: TransferOptions = {}): Promise<void> {
  const { signal, onProgress } = opts;
  const count = blobChunkCount(s.size);
  let next = 0;
  let done = 0;
  await withRetries(async () => {
    await s.relay.whenConnected(CONNECT_TIMEOUT_MS);
    let moved = false;
    try {
      const ahead: Array<Promise<RelayFrame>> = [];
      let asked = next;
      const ask = (): void => {
        const n = asked++;
        const p = s.relay.command({ t: 'bget', bid: s.blob, n }, s.dk);
        p.catch(() => undefined); // awaited in order below
        ahead.push(p);
      };
      while (asked < count && ahead.length < WINDOW) ask();
      while (next < count) {
        signal?.throwIfAborted();
        const chunk: ChunkFrame = expect(await ahead.shift()!, 'chunk');
        if (chunk.n !== next) throw new ProtocolError('relay sent another chunk than asked for');
        await s.take(next, chunk.data);
        next += 1;
        moved = true;
        done += chunk.data.length;
        onProgress?.({ done, total: s.size });
        if (asked < count) ask();
      }
      return { value: undefined };
    } catch (error) {
      signal?.throwIfAborted();
      return { moved, error };
    }
  }, signal);
}
