import { beforeAll, describe, expect, it } from 'vitest';
import {
  DecodeError,
  FANOUT_ENTRY_BYTES,
  MAX_BODY_BYTES,
  MAX_FANOUT_BATCH,
  MAX_FANOUT_ENTRIES,
  MAX_FRAME_BYTES,
  ParusError,
  UsageError,
  checkFanoutEntryProof,
  decodeClientFrame,
  decodeRelayFrame,
  encodeCbor,
  encodeDeliveryPlaintext,
  encodeFrame,
  fanoutEntryProof,
  initCrypto,
  openDelivery,
  packFanoutEntries,
  sealDelivery,
  sealDeliveryPlaintext,
  splitSids,
  systemRandom,
} from '../src/index.ts';
import type { ClientFrame, RelayFrame } from '../src/index.ts';

beforeAll(() => initCrypto());

const rand = (n: number): Uint8Array => systemRandom.bytes(n);

function clientFrames(): ClientFrame[] {
  return [
    { t: 'fnew', id: 1, fk: rand(32), auth: rand(32) },
    { t: 'fadd', id: 2, lid: rand(24), ents: rand(3 * FANOUT_ENTRY_BYTES), auth: rand(32) },
    { t: 'fadd', id: 3, lid: rand(24), ents: rand(MAX_FANOUT_BATCH * FANOUT_ENTRY_BYTES), auth: rand(32) },
    { t: 'frem', id: 4, lid: rand(24), sids: rand(2 * 24), auth: rand(32) },
    { t: 'fdrop', id: 5, lid: rand(24), auth: rand(32) },
    { t: 'fsend', id: 6, lid: rand(24), body: rand(300), auth: rand(32) },
    { t: 'fsend', id: 7, lid: rand(24), body: new Uint8Array(0), auth: rand(32) },
  ];
}

function relayFrames(): RelayFrame[] {
  return [
    { t: 'flist', id: 1, lid: rand(24) },
    { t: 'fsent', id: 2, n: 7, full: rand(48), gone: new Uint8Array(0) },
    { t: 'fsent', id: 3, n: 0, full: new Uint8Array(0), gone: rand(MAX_FANOUT_ENTRIES * 24) },
  ];
}

describe('fan-out frames', () => {
  it('round-trip', () => {
    for (const f of clientFrames()) expect(decodeClientFrame(encodeFrame(f))).toEqual(f);
    for (const f of relayFrames()) expect(decodeRelayFrame(encodeFrame(f))).toEqual(f);
  });

  it('refuse truncated input with DecodeError', () => {
    for (const f of [...clientFrames(), ...relayFrames()]) {
      const bytes = encodeFrame(f);
      const decode = 'auth' in f ? decodeClientFrame : decodeRelayFrame;
      for (const cut of [1, 5, bytes.length >> 1, bytes.length - 1]) {
        expect(() => decode(bytes.subarray(0, cut))).toThrow(DecodeError);
      }
    }
  });

  it('mutated input either decodes to a valid frame or fails with a typed error', () => {
    let refused = 0;
    for (const f of clientFrames()) {
      const bytes = encodeFrame(f);
      for (let i = 0; i < Math.min(bytes.length, 80); i++) {
        const copy = bytes.slice();
        copy[i]! ^= 0x41;
        try {
          const decoded = decodeClientFrame(copy);
          expect(encodeFrame(decoded)).toEqual(copy); // strict codec: only canonical bytes decode
        } catch (error) {
          expect(error).toBeInstanceOf(ParusError);
          refused += 1;
        }
      }
    }
    expect(refused).toBeGreaterThan(0);
  });

  it('refuse oversized and ill-shaped fields', () => {
    const lid = rand(24);
    const auth = rand(32);
    const bad: Array<Record<string, unknown>> = [
      { t: 'fadd', id: 1, lid, ents: rand((MAX_FANOUT_BATCH + 1) * FANOUT_ENTRY_BYTES), auth },
      { t: 'fadd', id: 1, lid, ents: rand(FANOUT_ENTRY_BYTES + 1), auth },
      { t: 'fadd', id: 1, lid, ents: new Uint8Array(0), auth },
      { t: 'frem', id: 1, lid, sids: rand(25), auth },
      { t: 'frem', id: 1, lid, sids: rand((MAX_FANOUT_BATCH + 1) * 24), auth },
      { t: 'fsend', id: 1, lid, body: rand(MAX_BODY_BYTES + 1), auth },
      { t: 'fsend', id: 1, lid: rand(23), body: rand(3), auth },
      { t: 'fsend', id: 1, lid, body: rand(3), auth: rand(31) },
      { t: 'fsend', id: 1, lid, body: rand(3) },
      { t: 'fnew', id: 1, fk: rand(33), auth },
      { t: 'fdrop', lid, auth },
    ];
    for (const frame of bad) {
      expect(() => decodeClientFrame(encodeCbor(frame as never))).toThrow(DecodeError);
    }
    expect(() =>
      decodeRelayFrame(encodeCbor({ t: 'fsent', id: 1, n: 1, full: rand(25), gone: new Uint8Array(0) })),
    ).toThrow(DecodeError);
    expect(() =>
      decodeRelayFrame(
        encodeCbor({ t: 'fsent', id: 1, n: 1, full: rand((MAX_FANOUT_ENTRIES + 1) * 24), gone: rand(0) }),
      ),
    ).toThrow(DecodeError);
    expect(() => decodeClientFrame(new Uint8Array(MAX_FRAME_BYTES + 1))).toThrow(DecodeError);
  });
});

describe('fan-out entry proofs', () => {
  it('check under the same key, session, list and sid only', () => {
    const key = rand(32);
    const session = rand(32);
    const lid = rand(24);
    const sid = rand(24);
    const proof = fanoutEntryProof(key, session, lid, sid);
    expect(checkFanoutEntryProof(key, session, lid, sid, proof)).toBe(true);
    expect(checkFanoutEntryProof(rand(32), session, lid, sid, proof)).toBe(false);
    expect(checkFanoutEntryProof(key, rand(32), lid, sid, proof)).toBe(false);
    expect(checkFanoutEntryProof(key, session, rand(24), sid, proof)).toBe(false);
    expect(checkFanoutEntryProof(key, session, lid, rand(24), proof)).toBe(false);
    expect(checkFanoutEntryProof(key, session, lid, sid, proof.subarray(0, 31))).toBe(false);
  });

  it('pack and split entries', () => {
    const entries = [0, 1, 2].map(() => ({ sid: rand(24), proof: rand(32) }));
    const packed = packFanoutEntries(entries);
    expect(packed.length).toBe(3 * FANOUT_ENTRY_BYTES);
    expect(packed.subarray(FANOUT_ENTRY_BYTES, FANOUT_ENTRY_BYTES + 24)).toEqual(entries[1]!.sid);
    expect(splitSids(entries.map((e) => e.sid).reduce((a, b) => new Uint8Array([...a, ...b])))).toEqual(
      entries.map((e) => e.sid),
    );
    expect(() => packFanoutEntries([{ sid: rand(23), proof: rand(32) }])).toThrow(UsageError);
  });
});

describe('shared delivery sealing', () => {
  it('opens like sealDelivery', () => {
    const key = rand(32);
    const mid = rand(16);
    const body = rand(200);
    const sealed = sealDeliveryPlaintext(key, rand(24), mid, encodeDeliveryPlaintext(1234, body));
    expect(openDelivery(key, mid, sealed)).toEqual({ ts: 1234, body });
    expect(sealed.length).toBe(sealDelivery(systemRandom, key, mid, { ts: 1234, body }).length);
  });
});

describe('delivery plaintext', () => {
  it('is laid out byte for byte as the generic encoder makes {ts, body}, for every head length', () => {
    const bodies = [0, 1, 23, 24, 255, 256, 65_535, 65_536].map((n) => rand(n));
    const times = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Date.now(), 2 ** 53 - 1, -1];
    for (const ts of times)
      for (const body of bodies) {
        const label = `ts ${ts}, ${body.length} bytes`;
        const generic = Buffer.from(encodeCbor({ ts, body }));
        expect(Buffer.from(encodeDeliveryPlaintext(ts, body)).equals(generic), label).toBe(true);
        // Into an array that held other bytes (the relay's slab): every byte is written.
        const dirty = encodeDeliveryPlaintext(ts, body, (size) => new Uint8Array(size).fill(0xee));
        expect(Buffer.from(dirty).equals(generic), label).toBe(true);
      }
    expect(() => encodeDeliveryPlaintext(1.5, rand(1))).toThrow(UsageError);
  });
});

describe('msg frame encoding', () => {
  it('is the canonical CBOR of the frame for every body-length class', () => {
    for (const n of [0, 1, 23, 24, 255, 256, 65_535, 65_536, MAX_BODY_BYTES + 256]) {
      const frame = { t: 'msg' as const, rid: rand(24), mid: rand(16), body: rand(n) };
      const bytes = encodeFrame(frame);
      expect(bytes).toEqual(encodeCbor(frame));
      expect(decodeRelayFrame(bytes)).toEqual(frame);
    }
  });
});

describe('frame encoding into a given array', () => {
  // The relay hands encodeFrame Node's Buffer.allocUnsafe, whose bytes are whatever was
  // there: the laid-out frames must write every one of them.
  const dirty = (size: number): Uint8Array => new Uint8Array(size).fill(0xa5);

  it('writes every byte of a msg or ok frame, whatever the array held', () => {
    for (const n of [0, 23, 24, 255, 256, 65_536]) {
      const frame = { t: 'msg' as const, rid: rand(24), mid: rand(16), body: rand(n) };
      expect(encodeFrame(frame, dirty)).toEqual(encodeCbor(frame));
    }
    for (const id of [0, 23, 24, 256, 65_536, 0xffffffff]) {
      expect(encodeFrame({ t: 'ok', id }, dirty)).toEqual(encodeCbor({ t: 'ok', id }));
    }
  });
});

describe('ok frame encoding', () => {
  it('is the canonical CBOR of the frame for every id-length class', () => {
    for (const id of [
      0,
      23,
      24,
      255,
      256,
      65_535,
      65_536,
      0xffffffff,
      0x100000000,
      Number.MAX_SAFE_INTEGER,
    ]) {
      const frame = { t: 'ok' as const, id };
      const bytes = encodeFrame(frame);
      expect(bytes).toEqual(encodeCbor(frame));
      expect(decodeRelayFrame(bytes)).toEqual(frame);
    }
    const sub = { t: 'ok' as const, id: 7, pending: 3 };
    expect(decodeRelayFrame(encodeFrame(sub))).toEqual(sub);
  });
});
