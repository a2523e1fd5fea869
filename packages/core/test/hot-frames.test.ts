import { describe, expect, it } from 'vitest';
import {
  commandAuthPieces,
  concatBytes,
  decodeCbor,
  decodeClientFrame,
  decodeHotFrame,
  encodeCbor,
  encodeFrame,
  equalBytes,
} from '../src/index.ts';
import type { AckFrame, CborMap, SendFrame } from '../src/index.ts';

/** Deterministic bytes (no randomness in tests that must reproduce). */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const IDS = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
const BODIES = [0, 1, 23, 24, 255, 256, 300];
/** Bodies at the larger heads, with one id each (deep comparisons of large arrays are slow). */
const LARGE_BODIES = [65_535, 65_536, 192 * 1024];

function sends(): SendFrame[] {
  const out: SendFrame[] = [];
  for (const id of IDS)
    for (const n of BODIES) {
      out.push({ t: 'send', id, sid: bytes(24, id + n), body: bytes(n, n) });
      out.push({ t: 'send', id, sid: bytes(24, id), body: bytes(n, n + 1), auth: bytes(32, id + 7) });
    }
  for (const n of LARGE_BODIES)
    out.push({ t: 'send', id: 9, sid: bytes(24, 9), body: bytes(n, n), auth: bytes(32, 9) });
  return out;
}

function acks(): AckFrame[] {
  return IDS.map((id) => ({
    t: 'ack',
    id,
    rid: bytes(24, id),
    mid: bytes(16, id + 1),
    auth: bytes(32, id + 2),
  }));
}

/** Field by field, byte arrays compared as bytes (vitest's deep equality is slow on large arrays). */
function same(a: object | undefined, b: object | undefined): boolean {
  if (!a || !b) return a === b;
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.join() !== kb.join()) return false;
  return ka.every((k) => {
    const x = (a as Record<string, unknown>)[k];
    const y = (b as Record<string, unknown>)[k];
    return x instanceof Uint8Array && y instanceof Uint8Array ? equalBytes(x, y) : x === y;
  });
}

/**
 * What the generic decoder makes of `b` as a map; the hot decoder must give exactly these
 * fields, or nothing.
 */
function agreesWithGeneric(b: Uint8Array): void {
  const hot = decodeHotFrame(b);
  if (!hot) return;
  const m = decodeCbor(b, { maxDepth: 4, maxItems: 16 }) as CborMap;
  expect(same(hot, m)).toBe(true);
  expect(same(decodeClientFrame(b), hot)).toBe(true);
}

describe('decodeHotFrame: send and ack without the generic CBOR map (docs/decisions/0042)', () => {
  it('decodes every canonical send and ack of one id as the generic decoder does, ids and bodies at every head size', () => {
    for (const frame of [...sends(), ...acks()]) {
      const b = encodeFrame(frame);
      const hot = decodeHotFrame(b);
      // Ids past 2^32 take the generic path (8-byte heads).
      if (frame.id >= 2 ** 32) expect(hot).toBeUndefined();
      else expect(same(hot, frame), `${frame.t} ${frame.id}`).toBe(true);
      expect(same(decodeClientFrame(b), frame)).toBe(true);
      agreesWithGeneric(b);
    }
  });

  it('leaves batched acks, unknown fields and oversized bodies to the generic decoder', () => {
    const batched = encodeFrame({
      t: 'ack',
      id: 1,
      rid: bytes(24, 1),
      mids: bytes(32, 2),
      auth: bytes(32, 3),
    });
    expect(decodeHotFrame(batched)).toBeUndefined();
    expect(decodeClientFrame(batched)).toMatchObject({ t: 'ack', mids: bytes(32, 2) });
    const tooBig = encodeFrame({ t: 'send', id: 1, sid: bytes(24, 1), body: bytes(192 * 1024 + 1, 1) });
    expect(decodeHotFrame(tooBig)).toBeUndefined();
    expect(() => decodeClientFrame(tooBig)).toThrow();
  });

  it('accepts no changed, cut or lengthened frame that the generic decoder refuses or reads otherwise', () => {
    const samples = [
      encodeFrame({ t: 'send', id: 300, sid: bytes(24, 1), body: bytes(30, 2), auth: bytes(32, 3) }),
      encodeFrame({ t: 'send', id: 5, sid: bytes(24, 4), body: bytes(3, 5) }),
      encodeFrame({ t: 'ack', id: 70_000, rid: bytes(24, 6), mid: bytes(16, 7), auth: bytes(32, 8) }),
    ];
    for (const b of samples) {
      for (let i = 0; i < b.length; i++)
        for (const v of [
          0x00,
          0x17,
          0x18,
          0x19,
          0x40,
          0x58,
          0x5a,
          0x61,
          0x64,
          0xa4,
          0xa5,
          0xa6,
          0xff,
          b[i]! ^ 1,
        ]) {
          const changed = b.slice();
          changed[i] = v;
          agreesWithGeneric(changed);
        }
      for (let n = 0; n < b.length; n++) agreesWithGeneric(b.subarray(0, n));
      agreesWithGeneric(Uint8Array.of(...b, 0));
    }
  });

  it('cuts the auth entry out of a send or an ack as the map without it encodes, found from their layout', () => {
    for (const frame of [...sends(), ...acks()]) {
      if (!frame.auth) continue;
      const { auth: _auth, ...rest } = frame;
      const pieces = commandAuthPieces(encodeFrame(frame));
      expect(pieces).toBeDefined();
      expect(equalBytes(concatBytes(...pieces!), encodeCbor(rest as never)), `${frame.t} ${frame.id}`).toBe(
        true,
      );
    }
  });
});
