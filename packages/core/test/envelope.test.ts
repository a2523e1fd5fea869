import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, toHex, utf8 } from '../src/bytes.ts';
import { decodeCbor, encodeCbor, type CborMap, type CborValue } from '../src/cbor.ts';
import { generateSignKeyPair, hash, initCrypto, sign, type SignKeyPair } from '../src/crypto.ts';
import {
  createEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  MAX_ENVELOPE_BYTES,
  MESSAGE_KINDS,
  type Envelope,
  type MessageKind,
} from '../src/envelope.ts';
import { DecodeError, ProtocolError, QuotaError, UsageError, VerificationError } from '../src/errors.ts';
import { padToBucket, unpad } from '../src/padding.ts';
import {
  expectMutationsRejected,
  expectTruncationsRejected,
  scriptedRandom,
  versionOffset,
} from './contact-test-helpers.ts';

const rng = scriptedRandom('envelope');
const TS = 1_750_000_000_000;
let device: SignKeyPair;
let conv: Uint8Array;
let parents: Uint8Array[];

beforeAll(async () => {
  await initCrypto();
  device = generateSignKeyPair(rng);
  conv = rng.bytes(16);
  parents = [rng.bytes(32), rng.bytes(32), rng.bytes(32)];
});

function make(kind: MessageKind = 'text', body: CborValue = { text: '你好 hello' }): Envelope {
  return createEnvelope({ device, conv, parents, lamport: 7, ts: TS, kind, body });
}

/** Edits the decoded map; optionally recomputes the id (and the signature) the honest way. */
function edited(edit: (m: CborMap) => void, redo: 'none' | 'id' | 'id+sig' = 'none'): Uint8Array {
  const m = decodeCbor(encodeEnvelope(make())) as CborMap;
  edit(m);
  if (redo !== 'none') {
    const { id: _id, sig: _sig, ...content } = m;
    m.id = hash(concatBytes(utf8('parus-envelope-v1'), encodeCbor(content)), 32);
    if (redo === 'id+sig') m.sig = sign(device.secretKey, concatBytes(utf8('parus-envelope-sig-v1'), m.id));
  }
  return encodeCbor(m);
}

describe('envelope codec', () => {
  it('round-trips every kind and several bodies', () => {
    const bodies: CborValue[] = [
      null,
      'text',
      0,
      true,
      new Uint8Array([1, 2]),
      [1, [2, [3]]],
      { a: { b: 'c' } },
    ];
    for (const kind of MESSAGE_KINDS) {
      for (const body of bodies) {
        const e = make(kind, body);
        const bytes = encodeEnvelope(e);
        const back = decodeEnvelope(bytes);
        expect(back).toEqual(e);
        expect(toHex(encodeEnvelope(back))).toBe(toHex(bytes));
      }
    }
  });

  it('names a message by its contents, whatever order the parents were given in', () => {
    const a = make();
    const b = createEnvelope({
      device,
      conv,
      parents: [...parents].reverse(),
      lamport: 7,
      ts: TS,
      kind: 'text',
      body: { text: '你好 hello' },
    });
    expect(toHex(a.id)).toBe(toHex(b.id));
    expect(a.parents.map(toHex)).toEqual([...parents].map(toHex).sort());
    expect(toHex(make('text', { text: 'other' }).id)).not.toBe(toHex(a.id));
  });

  it('survives padding', () => {
    const e = make();
    const padded = padToBucket(encodeEnvelope(e));
    expect(padded.length).toBe(512);
    expect(decodeEnvelope(unpad(padded))).toEqual(e);
  });

  it('refuses every truncation with DecodeError', () => {
    expectTruncationsRejected(encodeEnvelope(make()), decodeEnvelope);
  });

  it('refuses 600 random mutations with DecodeError or VerificationError', () => {
    const bytes = encodeEnvelope(make());
    const { byClass } = expectMutationsRejected(bytes, decodeEnvelope, {
      count: 600,
      seed: 5,
      versionOffset: versionOffset(bytes),
    });
    expect(byClass.VerificationError).toBeGreaterThan(0);
    expect(byClass.DecodeError).toBeGreaterThan(0);
  });

  it('refuses oversized input with DecodeError, and will not create it (QuotaError)', () => {
    expect(() => decodeEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1))).toThrow(DecodeError);
    expect(() => decodeEnvelope(concatBytes(encodeEnvelope(make()), new Uint8Array(1)))).toThrow(DecodeError);
    expect(() => make('file', new Uint8Array(MAX_ENVELOPE_BYTES))).toThrow(QuotaError);
    const big = make('file', new Uint8Array(MAX_ENVELOPE_BYTES - 400));
    expect(encodeEnvelope(big).length).toBeLessThanOrEqual(MAX_ENVELOPE_BYTES);
    expect(padToBucket(encodeEnvelope(big))).toHaveLength(128 * 1024);
  });

  it('refuses a field changed without re-signing with VerificationError', () => {
    const edits: Array<(m: CborMap) => void> = [
      (m) => (m.ts = TS + 1),
      (m) => (m.lamport = 8),
      (m) => (m.body = { text: 'forged' }),
      (m) => (m.kind = 'edit'),
      (m) => (m.parents = (m.parents as Uint8Array[]).slice(1)),
      (m) => (m.conv = rng.bytes(16)),
      (m) => (m.device = generateSignKeyPair(rng).publicKey),
    ];
    for (const edit of edits) {
      expect(() => decodeEnvelope(edited(edit))).toThrow(VerificationError);
      expect(() => decodeEnvelope(edited(edit, 'id'))).toThrow(VerificationError);
    }
    // Honest edits with a recomputed id and a fresh signature are simply another message.
    expect(decodeEnvelope(edited((m) => (m.ts = TS + 1), 'id+sig')).ts).toBe(TS + 1);
  });

  it('refuses malformed envelopes with DecodeError even when signed', () => {
    const bad: Array<(m: CborMap) => void> = [
      (m) => (m.extra = 1),
      (m) => delete m.body,
      (m) => (m.parents = [...(m.parents as Uint8Array[])].reverse()),
      (m) => (m.parents = [parents[0]!, parents[0]!]),
      (m) => (m.parents = Array.from({ length: 33 }, (_, i) => new Uint8Array(32).fill(i))),
      (m) => (m.parents = [new Uint8Array(31)]),
      (m) => (m.conv = new Uint8Array(32)),
      (m) => (m.lamport = -1),
      (m) => (m.kind = 7),
      (m) => (m.kind = 'k'.repeat(40)),
    ];
    for (const edit of bad) expect(() => decodeEnvelope(edited(edit, 'id+sig'))).toThrow(DecodeError);
  });

  it('refuses an unknown version or a signed unknown kind with ProtocolError', () => {
    expect(() => decodeEnvelope(edited((m) => (m.v = 2), 'id+sig'))).toThrow(ProtocolError);
    expect(() => decodeEnvelope(edited((m) => (m.kind = 'poll'), 'id+sig'))).toThrow(ProtocolError);
  });

  it('checks arguments', () => {
    const base = { device, conv, parents, lamport: 1, ts: TS, kind: 'text' as const, body: 'x' };
    expect(() => createEnvelope({ ...base, conv: new Uint8Array(15) })).toThrow(UsageError);
    expect(() => createEnvelope({ ...base, parents: [parents[0]!, parents[0]!] })).toThrow(UsageError);
    expect(() => createEnvelope({ ...base, parents: [new Uint8Array(16)] })).toThrow(UsageError);
    expect(() =>
      createEnvelope({ ...base, parents: Array.from({ length: 33 }, () => rng.bytes(32)) }),
    ).toThrow(UsageError);
    expect(() => createEnvelope({ ...base, lamport: -1 })).toThrow(UsageError);
    expect(() => createEnvelope({ ...base, ts: 1.5 })).toThrow(UsageError);
    expect(() => createEnvelope({ ...base, kind: 'poll' as MessageKind })).toThrow(UsageError);
    expect(() => createEnvelope({ ...base, body: 1.5 })).toThrow(UsageError);
    expect(() => createEnvelope({ ...base, body: Array.from({ length: 5000 }, () => 0) })).toThrow(
      UsageError,
    );
  });
});
