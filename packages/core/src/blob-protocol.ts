/**
 * Blob frames of the client ↔ relay protocol (docs/decisions/0010-blobs.md): a blob is an
 * encrypted file (file-stream.ts) that a relay stores for a while, cut into chunks of
 * BLOB_CHUNK_BYTES (one encrypted file chunk each), uploaded in order and resumable,
 * downloaded chunk by chunk.
 *
 * Authorisation reuses the queue commands' X25519 authenticators (relay-protocol.ts): the
 * uploader makes an upload key `uk` and a download key `dk`; `bnew` carries both public
 * halves and is authenticated with `uk` (proof of possession, as `new` is with `rk`);
 * `bput`, `bfin` and `bstat` are authenticated with `uk`, `bget` with `dk`. The blob id is
 * 32 random bytes chosen by the relay; the `dk` secret travels only inside the end-to-end
 * encrypted file message, so fetching a blob needs both the id and that key.
 *
 *   bnew  {id, uk, dk, size, auth}        → blob {id, bid, size, have: 0, done: false, expires}
 *   bput  {id, bid, n, data, auth}        → ok            n must be the next chunk (have)
 *   bfin  {id, bid, hash, auth}           → blob {..., done: true}   BLAKE2b-256 of all chunks
 *   bstat {id, bid, auth}                 → blob {...}
 *   bget  {id, bid, n, auth (dk)}         → chunk {id, n, data}
 *   bdel  {id, bid, auth}                 → ok            the uploader deletes its blob (unsend)
 */
import { asBool, asBytes, asUint, type CborMap } from './cbor.ts';
import { DecodeError } from './errors.ts';
import { FILE_CIPHER_CHUNK_BYTES, MAX_FILE_BYTES, fileCipherSize } from './file-stream.ts';

export const BLOB_ID_BYTES = 32;
export const BLOB_HASH_BYTES = 32;
export const BLOB_CHUNK_BYTES = FILE_CIPHER_CHUNK_BYTES;
/** The largest blob the protocol can describe; a relay's own limit is usually lower. */
export const MAX_BLOB_BYTES = fileCipherSize(MAX_FILE_BYTES);

export interface BlobNewFrame {
  t: 'bnew';
  id: number;
  uk: Uint8Array;
  dk: Uint8Array;
  size: number;
  auth: Uint8Array;
}
export interface BlobPutFrame {
  t: 'bput';
  id: number;
  bid: Uint8Array;
  n: number;
  data: Uint8Array;
  auth: Uint8Array;
}
export interface BlobFinishFrame {
  t: 'bfin';
  id: number;
  bid: Uint8Array;
  hash: Uint8Array;
  auth: Uint8Array;
}
export interface BlobStatFrame {
  t: 'bstat';
  id: number;
  bid: Uint8Array;
  auth: Uint8Array;
}
export interface BlobGetFrame {
  t: 'bget';
  id: number;
  bid: Uint8Array;
  n: number;
  auth: Uint8Array;
}
export interface BlobDeleteFrame {
  t: 'bdel';
  id: number;
  bid: Uint8Array;
  auth: Uint8Array;
}
export type BlobCommand =
  | BlobNewFrame
  | BlobPutFrame
  | BlobFinishFrame
  | BlobStatFrame
  | BlobGetFrame
  | BlobDeleteFrame;

export interface BlobFrame {
  t: 'blob';
  id: number;
  bid: Uint8Array;
  size: number;
  /** Chunks stored so far. */
  have: number;
  done: boolean;
  /** ms since the epoch after which the relay deletes the blob. */
  expires: number;
}
export interface ChunkFrame {
  t: 'chunk';
  id: number;
  n: number;
  data: Uint8Array;
}
export type BlobReply = BlobFrame | ChunkFrame;

/** How many chunks a blob of `size` bytes has. */
export function blobChunkCount(size: number): number {
  return Math.ceil(size / BLOB_CHUNK_BYTES);
}

/** The exact length of chunk `n` of a blob of `size` bytes (0 when there is no such chunk). */
export function blobChunkLength(size: number, n: number): number {
  const count = blobChunkCount(size);
  if (!Number.isSafeInteger(n) || n < 0 || n >= count) return 0;
  return n < count - 1 ? BLOB_CHUNK_BYTES : size - (count - 1) * BLOB_CHUNK_BYTES;
}

const key32 = { len: 32 };
const bid32 = { len: BLOB_ID_BYTES };

function size(m: CborMap): number {
  const s = asUint(m.size, 'size', MAX_BLOB_BYTES);
  if (s === 0) throw new DecodeError('size must be positive');
  return s;
}

/** Decodes a blob command (`t` already read); `base` holds `id` and `auth` as read by the caller. */
export function decodeBlobCommand(
  t: BlobCommand['t'],
  m: CborMap,
  base: { id: number; auth: Uint8Array },
): BlobCommand {
  switch (t) {
    case 'bnew':
      return { t, ...base, uk: asBytes(m.uk, 'uk', key32), dk: asBytes(m.dk, 'dk', key32), size: size(m) };
    case 'bput':
      return {
        t,
        ...base,
        bid: asBytes(m.bid, 'bid', bid32),
        n: asUint(m.n, 'n', MAX_BLOB_BYTES),
        data: asBytes(m.data, 'data', { max: BLOB_CHUNK_BYTES }),
      };
    case 'bfin':
      return {
        t,
        ...base,
        bid: asBytes(m.bid, 'bid', bid32),
        hash: asBytes(m.hash, 'hash', { len: BLOB_HASH_BYTES }),
      };
    case 'bstat':
    case 'bdel':
      return { t, ...base, bid: asBytes(m.bid, 'bid', bid32) };
    case 'bget':
      return { t, ...base, bid: asBytes(m.bid, 'bid', bid32), n: asUint(m.n, 'n', MAX_BLOB_BYTES) };
  }
}

export function isBlobCommandType(t: string): t is BlobCommand['t'] {
  return t === 'bnew' || t === 'bput' || t === 'bfin' || t === 'bstat' || t === 'bget' || t === 'bdel';
}

export function decodeBlobReply(t: 'blob' | 'chunk', m: CborMap, id: number): BlobReply {
  if (t === 'chunk') {
    return {
      t,
      id,
      n: asUint(m.n, 'n', MAX_BLOB_BYTES),
      data: asBytes(m.data, 'data', { max: BLOB_CHUNK_BYTES }),
    };
  }
  return {
    t,
    id,
    bid: asBytes(m.bid, 'bid', bid32),
    size: size(m),
    have: asUint(m.have, 'have', MAX_BLOB_BYTES),
    done: asBool(m.done, 'done'),
    expires: asUint(m.expires, 'expires'),
  };
}
