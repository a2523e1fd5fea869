/**
 * The relay's source of randomness: the operating system's CSPRNG through node:crypto
 * (OpenSSL's RAND_bytes, seeded from getrandom). The core takes randomness as a `Random`
 * parameter precisely so that the I/O edge picks the source (DESIGN.md "Components"):
 * libsodium's WebAssembly `randombytes_buf` costs ~65 µs a call under Node, this ~3 µs,
 * and the relay draws three to four values per message (message id, nonce, ...).
 */
import { randomFillSync } from 'node:crypto';
import type { Random } from '@parus/core';

export const nodeRandom: Random = {
  bytes(length: number): Uint8Array {
    // A fresh buffer of its own (not a slice of Node's pool), so wiping it wipes only it.
    return randomFillSync(new Uint8Array(length));
  },
};

/** Bytes drawn from the CSPRNG at once by `pooledRandom`. */
const BLOCK_BYTES = 4096;
/** Larger draws go to the CSPRNG directly. */
const MAX_POOLED_BYTES = 256;

/**
 * The same CSPRNG drawn in 4 KiB blocks, for the values the relay draws for every message
 * and that go on the wire in clear (message ids, delivery nonces): a `randomFillSync` call
 * costs several microseconds whatever its length (docs/decisions/0034), so one call serves
 * a few hundred draws. Each draw is copied out and its bytes in the block zeroed, so no
 * value is handed out twice and none stays behind once drawn. Keys are not drawn from it.
 */
export function pooledRandom(): Random & { fill(out: Uint8Array): void } {
  const block = new Uint8Array(BLOCK_BYTES);
  let at = BLOCK_BYTES;
  const fill = (out: Uint8Array): void => {
    const n = out.length;
    if (n > MAX_POOLED_BYTES) {
      randomFillSync(out);
      return;
    }
    if (at + n > BLOCK_BYTES) {
      randomFillSync(block);
      at = 0;
    }
    out.set(block.subarray(at, at + n));
    block.fill(0, at, at + n);
    at += n;
  };
  return {
    fill,
    bytes(length: number): Uint8Array {
      const out = new Uint8Array(length);
      fill(out);
      return out;
    },
  };
}
