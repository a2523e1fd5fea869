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
