// Group call signalling bodies (group-call-body.ts, decision 0053): each op's fields exactly,
// bounded sizes, and the member-key signature that binds a pair's fingerprint to the sender, the
// group, the call and the one recipient.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DecodeError,
  MAX_CALL_CANDIDATES,
  MAX_CALL_SDP_CHARS,
  UsageError,
  decodeCbor,
  decodeGroupCallSignalBody,
  encodeCbor,
  encodeGroupCallSignalBody,
  generateSignKeyPair,
  initCrypto,
  signGroupCallFingerprint,
  systemRandom,
  verifyGroupCallFingerprint,
  type CborMap,
} from '../src/index.ts';

const g = new Uint8Array(16).fill(1);
const call = new Uint8Array(16).fill(7);
const fp = new Uint8Array(32).fill(9);
const sig = new Uint8Array(64).fill(3);
const roundTrip = (m: CborMap) => decodeGroupCallSignalBody(decodeCbor(encodeCbor(m)));

beforeAll(async () => {
  await initCrypto();
});

describe('group call bodies', () => {
  it('round-trips every op with exactly its fields', () => {
    for (const b of [
      { g, call, op: 'ring' as const, video: true },
      { g, call, op: 'join' as const, video: false },
      { g, call, op: 'leave' as const },
      { g, call, op: 'full' as const },
      { g, call, op: 'offer' as const, n: 0, sdp: 'v=0', fp, sig },
      { g, call, op: 'answer' as const, n: 2, sdp: 'v=0', fp, sig },
      { g, call, op: 'ice' as const, cands: [{ c: 'candidate:1', mid: '0', i: 0 }] },
    ])
      expect(roundTrip(encodeGroupCallSignalBody(b))).toEqual(b);
  });

  it('refuses missing, extra and unknown fields, and sizes over the bounds', () => {
    const offer = encodeGroupCallSignalBody({ g, call, op: 'offer', n: 0, sdp: 'v=0', fp, sig });
    const { sig: _s, ...unsigned } = offer;
    expect(() => roundTrip(unsigned)).toThrow(DecodeError);
    expect(() => roundTrip({ ...offer, video: true })).toThrow(DecodeError);
    expect(() => roundTrip({ ...offer, to: g })).toThrow(DecodeError);
    expect(() => roundTrip({ ...offer, op: 'kick' })).toThrow(DecodeError);
    expect(() => roundTrip({ ...offer, g: new Uint8Array(32) })).toThrow(DecodeError);
    expect(() => roundTrip({ ...offer, sdp: 'x'.repeat(MAX_CALL_SDP_CHARS + 1) })).toThrow(DecodeError);
    expect(() => roundTrip({ ...offer, sig: new Uint8Array(63) })).toThrow(DecodeError);
    const many = Array.from({ length: MAX_CALL_CANDIDATES + 1 }, () => ({ c: 'candidate:1' }));
    expect(() => roundTrip({ g, call, op: 'ice', cands: many })).toThrow(DecodeError);
    expect(() => roundTrip({ g, call, op: 'ice', cands: [{ c: 'a\r\nb' }] })).toThrow(DecodeError);
    expect(() => encodeGroupCallSignalBody({ g, call, op: 'leave', video: true })).toThrow(UsageError);
  });

  it('a fingerprint signature holds only for its sender, group, call, recipient and fingerprint', () => {
    const alice = generateSignKeyPair(systemRandom);
    const bob = generateSignKeyPair(systemRandom).publicKey;
    const carol = generateSignKeyPair(systemRandom).publicKey;
    const s = signGroupCallFingerprint(alice.secretKey, g, call, alice.publicKey, bob, fp);
    expect(verifyGroupCallFingerprint(s, g, call, alice.publicKey, bob, fp)).toBe(true);
    expect(verifyGroupCallFingerprint(s, g, call, alice.publicKey, carol, fp)).toBe(false);
    expect(verifyGroupCallFingerprint(s, g, call, carol, bob, fp)).toBe(false);
    expect(verifyGroupCallFingerprint(s, new Uint8Array(16), call, alice.publicKey, bob, fp)).toBe(false);
    expect(verifyGroupCallFingerprint(s, g, new Uint8Array(16), alice.publicKey, bob, fp)).toBe(false);
    expect(verifyGroupCallFingerprint(s, g, call, alice.publicKey, bob, new Uint8Array(32))).toBe(false);
  });
});
