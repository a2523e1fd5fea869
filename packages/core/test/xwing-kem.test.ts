/**
 * Known answers for the X-Wing hybrid KEM from draft-connolly-cfrg-xwing-kem-10 Appendix C,
 * through xwingKeyPairFromSeed / xwingEncapsulateDeterministic / xwingDecapsulate; and for
 * ML-KEM-768 (FIPS 203) encapsulation from the C2SP CCTV intermediate values. The vectors
 * live in files under ./vectors, copied from those documents as printed.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  concatBytes,
  fromHex,
  hash,
  initCrypto,
  mlkem768,
  toHex,
  UsageError,
  VerificationError,
  xwingDecapsulate,
  xwingEncapsulateDeterministic,
  xwingKeyPairFromSeed,
  XWING_CIPHERTEXT_BYTES,
  XWING_PUBLIC_BYTES,
} from '../src/index.ts';

function vectorFile(name: string): string {
  return readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8');
}

/** Parses the draft's layout: `name  hex` or `name` followed by indented hex lines. */
function parseXwingVectors(text: string): Array<Record<string, string>> {
  const vectors: Array<Record<string, string>> = [];
  let current: Record<string, string> | undefined;
  let field = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    if (line.trim() === '') {
      current = undefined;
      continue;
    }
    if (line.startsWith(' ')) {
      if (!current) throw new Error('hex continuation outside a vector');
      current[field] += line.trim();
      continue;
    }
    const [name, value = ''] = line.trim().split(/\s+/);
    if (!current) {
      current = {};
      vectors.push(current);
    }
    field = name!;
    current[field] = value;
  }
  return vectors;
}

/** Parses `name = hex` lines. */
function parseAssignments(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+) = ([0-9a-f]+)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** A deterministic test Random: BLAKE2b of a label and a counter. */
function testRandom(label: string): { bytes(n: number): Uint8Array } {
  let counter = 0;
  return {
    bytes(n: number): Uint8Array {
      const out = new Uint8Array(n);
      for (let off = 0; off < n; off += 64) {
        const block = hash(
          concatBytes(new TextEncoder().encode(label), new Uint8Array([counter++ & 0xff])),
          64,
        );
        out.set(block.subarray(0, Math.min(64, n - off)), off);
      }
      return out;
    },
  };
}

const xwingVectors = parseXwingVectors(vectorFile('xwing-draft-connolly-cfrg-xwing-kem-10-appendix-c.txt'));
const mlkem = parseAssignments(vectorFile('mlkem768-c2sp-cctv-intermediate.txt'));

describe('X-Wing, draft-connolly-cfrg-xwing-kem-10 Appendix C', () => {
  beforeAll(async () => {
    await initCrypto();
  });

  it('reads three complete vectors', () => {
    expect(xwingVectors.length).toBe(3);
    for (const v of xwingVectors) {
      expect(fromHex(v.seed!).length).toBe(32);
      expect(fromHex(v.pk!).length).toBe(XWING_PUBLIC_BYTES);
      expect(fromHex(v.eseed!).length).toBe(64);
      expect(fromHex(v.ct!).length).toBe(XWING_CIPHERTEXT_BYTES);
      expect(fromHex(v.ss!).length).toBe(32);
    }
  });

  xwingVectors.forEach((v, i) => {
    describe(`vector ${i + 1}`, () => {
      it('seed -> pk (GenerateKeyPairDerand), sk is the seed', () => {
        const kp = xwingKeyPairFromSeed(fromHex(v.seed!));
        expect(toHex(kp.publicKey)).toBe(v.pk);
        expect(toHex(kp.secretKey)).toBe(v.sk);
      });

      it('pk, eseed -> ct, ss (EncapsulateDerand)', () => {
        const enc = xwingEncapsulateDeterministic(fromHex(v.pk!), fromHex(v.eseed!));
        expect(toHex(enc.ciphertext)).toBe(v.ct);
        expect(toHex(enc.sharedSecret)).toBe(v.ss);
      });

      it('sk, ct -> ss (Decapsulate)', () => {
        expect(toHex(xwingDecapsulate(fromHex(v.sk!), fromHex(v.ct!)))).toBe(v.ss);
      });

      it('a changed ciphertext decapsulates to another secret (implicit rejection), without an error', () => {
        const sk = fromHex(v.sk!);
        for (const index of [0, 1087, 1088, 1119]) {
          // 0 and 1087 fall in the ML-KEM part, 1088 and 1119 in the X25519 part.
          const ct = fromHex(v.ct!);
          ct[index]! ^= 0x01;
          const ss = xwingDecapsulate(sk, ct);
          expect(ss.length).toBe(32);
          expect(toHex(ss)).not.toBe(v.ss);
        }
      });
    });
  });

  it('rejects keys and ciphertexts of the wrong size', () => {
    const v = xwingVectors[0]!;
    expect(() => xwingEncapsulateDeterministic(fromHex(v.pk!).subarray(1), fromHex(v.eseed!))).toThrow(
      VerificationError,
    );
    expect(() => xwingEncapsulateDeterministic(fromHex(v.pk!), fromHex(v.eseed!).subarray(1))).toThrow(
      UsageError,
    );
    expect(() => xwingDecapsulate(fromHex(v.sk!), fromHex(v.ct!).subarray(1))).toThrow(VerificationError);
    expect(() => xwingDecapsulate(fromHex(v.sk!).subarray(1), fromHex(v.ct!))).toThrow(UsageError);
    expect(() => xwingKeyPairFromSeed(new Uint8Array(31))).toThrow(UsageError);
  });
});

describe('ML-KEM-768, FIPS 203', () => {
  beforeAll(async () => {
    await initCrypto();
  });

  it('Encaps_internal(ek, m) -> (K, c): C2SP CCTV intermediate-values vector', () => {
    expect(fromHex(mlkem.ek!).length).toBe(1184);
    expect(fromHex(mlkem.c!).length).toBe(1088);
    const enc = mlkem768.encapsulateDeterministic(fromHex(mlkem.ek!), fromHex(mlkem.m!));
    expect(toHex(enc.ciphertext)).toBe(mlkem.c);
    expect(toHex(enc.sharedSecret)).toBe(mlkem.K);
  });

  it('round trip with a key pair from a seed; a changed ciphertext gives another secret (implicit rejection)', () => {
    const rng = testRandom('mlkem768 round trip');
    const kp = mlkem768.keyPairFromSeed(rng.bytes(64));
    expect(kp.publicKey.length).toBe(1184);
    const enc = mlkem768.encapsulateDeterministic(kp.publicKey, rng.bytes(32));
    expect(mlkem768.decapsulate(kp.secretKey, enc.ciphertext)).toEqual(enc.sharedSecret);
    for (const index of [0, 500, 1087]) {
      const ct = enc.ciphertext.slice();
      ct[index]! ^= 0x04;
      const other = mlkem768.decapsulate(kp.secretKey, ct);
      expect(other.length).toBe(32);
      expect(toHex(other)).not.toBe(toHex(enc.sharedSecret));
    }
  });

  it('keyPairFromSeed is deterministic and takes exactly 64 bytes (d || z)', () => {
    const seed = testRandom('mlkem768 seed').bytes(64);
    expect(mlkem768.keyPairFromSeed(seed)).toEqual(mlkem768.keyPairFromSeed(seed.slice()));
    expect(() => mlkem768.keyPairFromSeed(seed.subarray(1))).toThrow(UsageError);
  });
});
