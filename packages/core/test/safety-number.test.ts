import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareBytes, concatBytes, toHex } from '../src/bytes.ts';
import { generateSignKeyPair, initCrypto } from '../src/crypto.ts';
import { DecodeError, ProtocolError, UsageError } from '../src/errors.ts';
import {
  compareSafetyNumberQr,
  formatSafetyNumber,
  safetyNumber,
  safetyNumberQrPayload,
} from '../src/safety-number.ts';
import { scriptedRandom } from './contact-test-helpers.ts';

const rng = scriptedRandom('safety-number');
let alice: Uint8Array;
let bob: Uint8Array;
let carol: Uint8Array;
const FROZEN = '979612027774231520220322445021041127978903296422078631126814';

beforeAll(async () => {
  await initCrypto();
  alice = generateSignKeyPair(rng).publicKey;
  bob = generateSignKeyPair(rng).publicKey;
  carol = generateSignKeyPair(rng).publicKey;
});

/** The construction written out again with Node's own BLAKE2b-512. */
function nodeHalf(key: Uint8Array): string {
  let h = Buffer.concat([Buffer.from([0, 0]), key, Buffer.from('parus-contact-identity')]);
  for (let i = 0; i < 5200; i++) h = createHash('blake2b512').update(h).update(key).digest();
  let out = '';
  for (let c = 0; c < 6; c++)
    out += String(Number(h.readBigUInt64BE(c * 5) >> 24n) % 100000).padStart(5, '0');
  return out;
}

describe('safety numbers', () => {
  it('are 60 digits and the same on both sides', () => {
    const ours = safetyNumber(alice, bob);
    expect(ours).toMatch(/^[0-9]{60}$/);
    expect(safetyNumber(bob, alice)).toBe(ours);
  });

  it('match the construction computed independently with Node BLAKE2b-512', () => {
    const [first, second] = compareBytes(alice, bob) <= 0 ? [alice, bob] : [bob, alice];
    expect(safetyNumber(alice, bob)).toBe(nodeHalf(first) + nodeHalf(second));
  });

  it('change when either key changes', () => {
    const ab = safetyNumber(alice, bob);
    expect(safetyNumber(alice, carol)).not.toBe(ab);
    expect(safetyNumber(carol, bob)).not.toBe(ab);
    // Each half belongs to one key: replacing Bob keeps Alice's half.
    const aliceHalf = nodeHalf(alice);
    expect(safetyNumber(alice, carol)).toContain(aliceHalf);
    expect(ab).toContain(aliceHalf);
  });

  // Frozen once from this implementation; never regenerate it to make a test pass.
  it('reproduces the frozen vector', () => {
    const a = new Uint8Array(32).fill(1);
    const b = new Uint8Array(32).fill(2);
    expect(safetyNumber(a, b)).toBe(FROZEN);
  });

  it('formats as twelve groups of five', () => {
    const formatted = formatSafetyNumber(safetyNumber(alice, bob));
    expect(formatted).toMatch(/^([0-9]{5} ){11}[0-9]{5}$/);
    expect(formatted.replaceAll(' ', '')).toBe(safetyNumber(alice, bob));
    expect(() => formatSafetyNumber('123')).toThrow(UsageError);
    expect(() => formatSafetyNumber('x'.repeat(60))).toThrow(UsageError);
  });

  it('refuses keys of the wrong size', () => {
    expect(() => safetyNumber(new Uint8Array(31), bob)).toThrow(UsageError);
    expect(() => safetyNumberQrPayload(alice, new Uint8Array(33))).toThrow(UsageError);
  });
});

describe('safety number QR codes', () => {
  it("accept the peer's payload", () => {
    const shownByBob = safetyNumberQrPayload(bob, alice);
    expect(shownByBob).toHaveLength(65);
    expect(shownByBob[0]).toBe(1);
    expect(compareSafetyNumberQr(shownByBob, alice, bob)).toBe(true);
    expect(compareSafetyNumberQr(safetyNumberQrPayload(alice, bob), bob, alice)).toBe(true);
  });

  it('reject a payload about another key, or our own payload', () => {
    expect(compareSafetyNumberQr(safetyNumberQrPayload(carol, alice), alice, bob)).toBe(false);
    expect(compareSafetyNumberQr(safetyNumberQrPayload(bob, carol), alice, bob)).toBe(false);
    expect(compareSafetyNumberQr(safetyNumberQrPayload(alice, bob), alice, bob)).toBe(false);
    const flipped = safetyNumberQrPayload(bob, alice);
    flipped[40]! ^= 1;
    expect(compareSafetyNumberQr(flipped, alice, bob)).toBe(false);
  });

  it('refuses what is not a payload', () => {
    const payload = safetyNumberQrPayload(bob, alice);
    expect(() => compareSafetyNumberQr(payload.subarray(0, 64), alice, bob)).toThrow(DecodeError);
    expect(() => compareSafetyNumberQr(concatBytes(payload, new Uint8Array(1)), alice, bob)).toThrow(
      DecodeError,
    );
    const other = payload.slice();
    other[0] = 2;
    expect(() => compareSafetyNumberQr(other, alice, bob)).toThrow(ProtocolError);
    expect(toHex(payload)).not.toBe(toHex(safetyNumberQrPayload(alice, bob)));
  });
});
