/**
 * An encrypted file (DESIGN.md "Files and media"): the plaintext is cut into chunks of
 * FILE_CHUNK_BYTES (the last one shorter, possibly empty) and each chunk is one message of
 * a libsodium secretstream under a fresh random key and header (crypto.ts). The ciphertext
 * is the concatenation of the encrypted chunks, each FILE_CHUNK_BYTES + 17 bytes but the
 * last, which carries the FINAL tag; it is what a relay stores as a blob, one encrypted
 * chunk per blob chunk, so a chunk can be fetched, checked and decrypted on its own turn.
 *
 * The writer is deterministic for a given key, header and plaintext, so an interrupted
 * upload re-encrypts from the start and sends only the chunks the relay lacks.
 */
import {
  SECRETSTREAM_ABYTES,
  openSecretStream,
  secretStreamPull,
  secretStreamPush,
  type SecretStream,
} from './crypto.ts';
import { DecodeError, UsageError, VerificationError } from './errors.ts';

export const FILE_CHUNK_BYTES = 64 * 1024;
/** One encrypted chunk: a blob chunk (blob-protocol.ts). */
export const FILE_CIPHER_CHUNK_BYTES = FILE_CHUNK_BYTES + SECRETSTREAM_ABYTES;
/** The largest file Parus sends; relays may accept less (their blob limit). */
export const MAX_FILE_BYTES = 256 * 1024 * 1024;

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_FILE_BYTES)
    throw new UsageError(`file size must be 0..${MAX_FILE_BYTES} bytes`);
}

/** How many chunks a file of `size` bytes has: an empty file still has its final chunk. */
export function fileChunkCount(size: number): number {
  checkSize(size);
  return Math.max(1, Math.ceil(size / FILE_CHUNK_BYTES));
}

/** The ciphertext size of a file of `size` bytes. */
export function fileCipherSize(size: number): number {
  return size + fileChunkCount(size) * SECRETSTREAM_ABYTES;
}

/** Encrypts `plaintext` chunk by chunk, in order. */
export function* encryptFileChunks(
  key: Uint8Array,
  header: Uint8Array,
  plaintext: Uint8Array,
): Generator<Uint8Array, void, undefined> {
  if (!(plaintext instanceof Uint8Array)) throw new UsageError('file contents must be bytes');
  const count = fileChunkCount(plaintext.length);
  const stream = openSecretStream(key, header);
  for (let i = 0; i < count; i++) {
    const piece = plaintext.subarray(
      i * FILE_CHUNK_BYTES,
      Math.min(plaintext.length, (i + 1) * FILE_CHUNK_BYTES),
    );
    yield secretStreamPush(stream, piece, i === count - 1);
  }
}

/**
 * Decrypts a file's chunks in order. The plaintext size is known (from the signed file
 * message), so each chunk's length is checked before it is opened, the FINAL tag must sit
 * on the last chunk and nowhere else, and `finish()` refuses a stream that stopped early.
 */
export class FileDecryptor {
  private readonly stream: SecretStream;
  private readonly count: number;
  private next = 0;

  constructor(
    key: Uint8Array,
    header: Uint8Array,
    private readonly size: number,
  ) {
    this.count = fileChunkCount(size);
    this.stream = openSecretStream(key, header);
  }

  /** The ciphertext length chunk `index` must have. */
  cipherChunkLength(index: number): number {
    if (index < this.count - 1) return FILE_CIPHER_CHUNK_BYTES;
    return this.size - (this.count - 1) * FILE_CHUNK_BYTES + SECRETSTREAM_ABYTES;
  }

  get done(): boolean {
    return this.next === this.count;
  }

  push(cipherChunk: Uint8Array): Uint8Array {
    if (this.done) throw new DecodeError('file has more chunks than its size allows');
    if (cipherChunk.length !== this.cipherChunkLength(this.next))
      throw new DecodeError(`file chunk ${this.next} has the wrong length`);
    const { message, final } = secretStreamPull(this.stream, cipherChunk);
    const last = this.next === this.count - 1;
    if (final !== last) throw new VerificationError('file stream ends in the wrong place');
    this.next += 1;
    return message;
  }

  finish(): void {
    if (!this.done) throw new VerificationError('file stream is truncated');
  }
}
