/**
 * crypto_secretstream_xchacha20poly1305 through crypto.ts, and files cut into its messages
 * (file-stream.ts). No published test vectors exist for secretstream, so:
 *  - the encryption layout is checked against an independent computation: HChaCha20 written
 *    here from RFC 8439 §2.3 / draft-irtf-cfrg-xchacha §2.2 and ChaCha20 from Node's OpenSSL,
 *    following libsodium's documented construction (tag byte under block 1, message from
 *    block 2, MAC folded into the next nonce);
 *  - whole outputs are frozen vectors generated once with libsodium 1.0.20 (never regenerate
 *    them to make a test pass).
 */
import { createCipheriv } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DecodeError,
  FILE_CHUNK_BYTES,
  FILE_CIPHER_CHUNK_BYTES,
  FileDecryptor,
  UsageError,
  VerificationError,
  concatBytes,
  createHasher,
  encryptFileChunks,
  fileChunkCount,
  fileCipherSize,
  fromHex,
  hash,
  initCrypto,
  openSecretStream,
  secretStreamPull,
  secretStreamPush,
  toHex,
  utf8,
} from '../src/index.ts';

const key = new Uint8Array(32).map((_, i) => i);
const header = new Uint8Array(24).map((_, i) => 0xa0 + i);
const m1 = utf8('Parus 山雀 1');
const m2 = utf8('final');
// Frozen: libsodium 1.0.20 (libsodium-wrappers-sumo), generated once.
const FROZEN_1 = '354f2d3108a1e8efa8ff77abdec34e3612f7778972f04fc89e3b298959a129';
const FROZEN_2 = '5dbe9dbd148a57b3cf59e84dce1312cb19f03212e0d8';
const FROZEN_FILE_HASH = 'c5c305f961f9ec53287514b6a6c13327f7cb2814f61e6f5e298e489da5b7986c';

beforeAll(() => initCrypto());

// ---- An independent ChaCha20 keystream ------------------------------------------------

function rotl(x: number, n: number): number {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}

/** HChaCha20 (draft-irtf-cfrg-xchacha-03 §2.2): 20 rounds, words 0-3 and 12-15, no feed-forward. */
function hchacha20(k: Uint8Array, n16: Uint8Array): Uint8Array {
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const s = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];
  for (let i = 0; i < 8; i++) s.push(dv(k).getUint32(4 * i, true));
  for (let i = 0; i < 4; i++) s.push(dv(n16).getUint32(4 * i, true));
  const qr = (a: number, b: number, c: number, d: number): void => {
    s[a] = (s[a]! + s[b]!) >>> 0;
    s[d] = rotl(s[d]! ^ s[a]!, 16);
    s[c] = (s[c]! + s[d]!) >>> 0;
    s[b] = rotl(s[b]! ^ s[c]!, 12);
    s[a] = (s[a]! + s[b]!) >>> 0;
    s[d] = rotl(s[d]! ^ s[a]!, 8);
    s[c] = (s[c]! + s[d]!) >>> 0;
    s[b] = rotl(s[b]! ^ s[c]!, 7);
  };
  for (let i = 0; i < 10; i++) {
    qr(0, 4, 8, 12);
    qr(1, 5, 9, 13);
    qr(2, 6, 10, 14);
    qr(3, 7, 11, 15);
    qr(0, 5, 10, 15);
    qr(1, 6, 11, 12);
    qr(2, 7, 8, 13);
    qr(3, 4, 9, 14);
  }
  const out = new Uint8Array(32);
  const o = dv(out);
  [0, 1, 2, 3, 12, 13, 14, 15].forEach((w, i) => o.setUint32(4 * i, s[w]!, true));
  return out;
}

/** ChaCha20 keystream from Node's OpenSSL: IV = block counter (LE32) || 12-byte nonce. */
function keystream(k: Uint8Array, nonce12: Uint8Array, counter: number, length: number): Uint8Array {
  const iv = new Uint8Array(16);
  new DataView(iv.buffer).setUint32(0, counter, true);
  iv.set(nonce12, 4);
  const c = createCipheriv('chacha20', k, iv);
  return new Uint8Array(c.update(new Uint8Array(length)));
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((x, i) => x ^ b[i]!);
}

describe('libsodium secretstream through crypto.ts', () => {
  it('lays out each message as libsodium documents it', () => {
    const s = openSecretStream(key, header);
    const c1 = secretStreamPush(s, m1, false);
    const c2 = secretStreamPush(s, m2, true);
    expect(c1.length).toBe(m1.length + 17);
    const subkey = hchacha20(key, header.subarray(0, 16));
    // nonce = message counter (LE32, from 1) || header[16..24]
    const n1 = concatBytes(new Uint8Array([1, 0, 0, 0]), header.subarray(16));
    expect(c1[0]! ^ keystream(subkey, n1, 1, 1)[0]!).toBe(0); // TAG_MESSAGE
    expect(toHex(xor(c1.subarray(1, 1 + m1.length), keystream(subkey, n1, 2, m1.length)))).toBe(toHex(m1));
    // The next nonce: counter 2, and the inner nonce XORed with the first MAC's first 8 bytes.
    const mac1 = c1.subarray(1 + m1.length);
    const n2 = concatBytes(new Uint8Array([2, 0, 0, 0]), xor(header.subarray(16), mac1.subarray(0, 8)));
    expect(c2[0]! ^ keystream(subkey, n2, 1, 1)[0]!).toBe(3); // TAG_FINAL
    expect(toHex(xor(c2.subarray(1, 1 + m2.length), keystream(subkey, n2, 2, m2.length)))).toBe(toHex(m2));
  });

  it('matches the frozen vectors and decrypts them', () => {
    const s = openSecretStream(key, header);
    expect(toHex(secretStreamPush(s, m1, false))).toBe(FROZEN_1);
    expect(toHex(secretStreamPush(s, m2, true))).toBe(FROZEN_2);
    const r = openSecretStream(key, header);
    expect(secretStreamPull(r, fromHex(FROZEN_1))).toEqual({ message: m1, final: false });
    expect(secretStreamPull(r, fromHex(FROZEN_2))).toEqual({ message: m2, final: true });
  });

  it('refuses tampered, reordered, foreign and short messages', () => {
    const flipped = fromHex(FROZEN_1);
    flipped[5]! ^= 1;
    expect(() => secretStreamPull(openSecretStream(key, header), flipped)).toThrow(VerificationError);
    expect(() => secretStreamPull(openSecretStream(key, header), fromHex(FROZEN_2))).toThrow(
      VerificationError,
    );
    const otherHeader = header.slice();
    otherHeader[0]! ^= 1;
    expect(() => secretStreamPull(openSecretStream(key, otherHeader), fromHex(FROZEN_1))).toThrow(
      VerificationError,
    );
    expect(() => secretStreamPull(openSecretStream(key, header), new Uint8Array(16))).toThrow(
      VerificationError,
    );
    expect(() => openSecretStream(key.subarray(1), header)).toThrow(UsageError);
    expect(() => openSecretStream(key, header.subarray(1))).toThrow(UsageError);
  });

  it('hashes pieces as hash() hashes the whole', () => {
    const data = utf8('a'.repeat(1000));
    const h = createHasher(32);
    h.update(data.subarray(0, 333));
    h.update(data.subarray(333));
    expect(toHex(h.digest())).toBe(toHex(hash(data, 32)));
    expect(() => h.digest()).toThrow(UsageError);
  });
});

describe('encrypted files (file-stream.ts)', () => {
  const file = new Uint8Array(FILE_CHUNK_BYTES + 10).map((_, i) => i % 251);

  it('cuts a file into chunks, deterministically, matching the frozen hash', () => {
    const chunks = [...encryptFileChunks(key, header, file)];
    expect(chunks.map((c) => c.length)).toEqual([FILE_CIPHER_CHUNK_BYTES, 27]);
    expect(fileCipherSize(file.length)).toBe(FILE_CIPHER_CHUNK_BYTES + 27);
    expect(toHex(hash(concatBytes(...chunks), 32))).toBe(FROZEN_FILE_HASH);
    expect(fileChunkCount(0)).toBe(1);
    expect(fileChunkCount(FILE_CHUNK_BYTES)).toBe(1);
    expect(fileChunkCount(FILE_CHUNK_BYTES + 1)).toBe(2);
    expect(() => fileChunkCount(-1)).toThrow(UsageError);
  });

  it('decrypts in order and refuses truncation, reordering, wrong lengths and a misplaced end', () => {
    const chunks = [...encryptFileChunks(key, header, file)];
    const d = new FileDecryptor(key, header, file.length);
    const plain = concatBytes(...chunks.map((c) => d.push(c)));
    d.finish();
    expect(toHex(plain)).toBe(toHex(file));

    const truncated = new FileDecryptor(key, header, file.length);
    truncated.push(chunks[0]!);
    expect(() => truncated.finish()).toThrow(VerificationError);

    expect(() => new FileDecryptor(key, header, file.length).push(chunks[1]!)).toThrow(DecodeError);
    // The second chunk read as the first of a 10-byte file: right length, wrong place in the stream.
    const swapped = new FileDecryptor(key, header, 10);
    expect(() => swapped.push(chunks[1]!)).toThrow(VerificationError);

    // A one-chunk stream read as if the file were longer: the end comes too early.
    const short = new Uint8Array(FILE_CHUNK_BYTES);
    const [only] = [...encryptFileChunks(key, header, short)];
    expect(() => new FileDecryptor(key, header, FILE_CHUNK_BYTES * 2).push(only!)).toThrow(VerificationError);
    const extra = new FileDecryptor(key, header, file.length);
    extra.push(chunks[0]!);
    extra.push(chunks[1]!);
    expect(() => extra.push(chunks[1]!)).toThrow(DecodeError);
  });
});
