// Call signalling and call-log bodies (call-body.ts, decision 0046): each op's fields exactly,
// bounded sizes, and the SDP fingerprint helpers.
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  MAX_CALL_CANDIDATES,
  MAX_CALL_SDP_CHARS,
  UsageError,
  callFingerprintMatches,
  decodeCallLogBody,
  decodeCallSignalBody,
  decodeCbor,
  decodeFileBody,
  encodeFileBody,
  formatRelayAddress,
  initCrypto,
  relayFingerprint,
  MAX_VOICE_MS,
  decodeClientFrame,
  decodeRelayFrame,
  encodeCallLogBody,
  encodeCallSignalBody,
  encodeCbor,
  formatFingerprint,
  parseFingerprint,
  sdpFingerprints,
  type CborMap,
} from '../src/index.ts';

const call = new Uint8Array(16).fill(7);
const fp = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
const sdp = `v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:sha-256 ${formatFingerprint(fp)}\r\n`;

function roundTrip(m: CborMap): ReturnType<typeof decodeCallSignalBody> {
  return decodeCallSignalBody(decodeCbor(encodeCbor(m)));
}

describe('call signal bodies', () => {
  it('each op round-trips with exactly its fields', () => {
    const offer = { call, op: 'offer' as const, n: 0, sdp, fp, video: true };
    expect(roundTrip(encodeCallSignalBody(offer))).toEqual(offer);
    const ice = {
      call,
      op: 'ice' as const,
      cands: [{ c: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', mid: '0', i: 0 }],
    };
    expect(roundTrip(encodeCallSignalBody(ice))).toEqual(ice);
    for (const op of ['decline', 'busy', 'hangup', 'taken'] as const)
      expect(roundTrip(encodeCallSignalBody({ call, op }))).toEqual({ call, op });
  });

  it('refuses an unknown op, unknown or missing fields, and oversized parts', () => {
    const bad: CborMap[] = [
      { call, op: 'ring' },
      { call, op: 'hangup', sdp },
      { call, op: 'offer', n: 0, sdp, fp },
      { call, op: 'answer', n: 0, sdp, fp, video: true },
      { call, op: 'offer', n: 0, sdp: 'x'.repeat(MAX_CALL_SDP_CHARS + 1), fp, video: true },
      { call, op: 'offer', n: 0, sdp, fp: fp.subarray(1), video: true },
      { call: call.subarray(1), op: 'hangup' },
      { call, op: 'ice', cands: Array.from({ length: MAX_CALL_CANDIDATES + 1 }, () => ({ c: '' })) },
      { call, op: 'ice', cands: [] },
      { call, op: 'ice', cands: [{ c: 'a\r\na=evil' }] },
      { call, op: 'ice', cands: [{ c: '', extra: 1 }] },
      { call, op: 'hangup', more: 1 },
    ];
    for (const m of bad)
      expect(() => decodeCallSignalBody(m), JSON.stringify(Object.keys(m))).toThrow(DecodeError);
    expect(() =>
      encodeCallSignalBody({
        call,
        op: 'offer',
        n: 0,
        sdp: 'x'.repeat(MAX_CALL_SDP_CHARS + 1),
        fp,
        video: true,
      }),
    ).toThrow(UsageError);
  });
});

describe('call-log bodies', () => {
  it('round-trip; only an answered call has a duration', () => {
    const b = { call, video: false, outcome: 'answered' as const, secs: 192 };
    expect(decodeCallLogBody(encodeCallLogBody(b))).toEqual(b);
    expect(() => decodeCallLogBody({ call, video: false, outcome: 'missed', secs: 3 })).toThrow(DecodeError);
    expect(() => decodeCallLogBody({ call, video: false, outcome: 'lost' })).toThrow(DecodeError);
    expect(() => encodeCallLogBody({ call, video: false, outcome: 'missed', secs: 3 })).toThrow(UsageError);
  });
});

describe('SDP fingerprints', () => {
  it('reads every a=fingerprint line; another hash or another value does not match', () => {
    expect(sdpFingerprints(sdp)).toEqual([fp]);
    expect(callFingerprintMatches(sdp, fp)).toBe(true);
    expect(
      callFingerprintMatches(
        sdp,
        fp.map((x) => x ^ 1),
      ),
    ).toBe(false);
    expect(callFingerprintMatches('v=0\r\n', fp)).toBe(false);
    const two = sdp + `a=fingerprint:sha-256 ${formatFingerprint(fp.map((x) => x ^ 1))}\r\n`;
    expect(callFingerprintMatches(two, fp)).toBe(false);
    expect(callFingerprintMatches(sdp.replace('sha-256', 'sha-1'), fp)).toBe(false);
    expect(parseFingerprint(formatFingerprint(fp))).toEqual(fp);
    expect(parseFingerprint('AA:BB')).toBeUndefined();
  });
});

describe('TURN frames of the relay protocol', () => {
  it('a turn request and its credentials decode strictly', () => {
    const rid = new Uint8Array(24).fill(1);
    const auth = new Uint8Array(32).fill(2);
    expect(decodeClientFrame(encodeCbor({ t: 'turn', id: 3, rid, auth }))).toEqual({
      t: 'turn',
      id: 3,
      rid,
      auth,
    });
    expect(() => decodeClientFrame(encodeCbor({ t: 'turn', id: 3, rid }))).toThrow(DecodeError);
    const ok = { t: 'turnc', id: 3, urls: ['turn:127.0.0.1:3478'], user: '1:ab', pass: 'x', ttl: 60 };
    expect(decodeRelayFrame(encodeCbor(ok))).toEqual(ok);
    for (const urls of [[], ['http://example.org/'], Array.from({ length: 5 }, () => 'turn:h:1')])
      expect(() => decodeRelayFrame(encodeCbor({ ...ok, urls }))).toThrow(DecodeError);
  });
});

describe('voice messages in file bodies', () => {
  const file = {
    blob: new Uint8Array(32),
    dk: new Uint8Array(32),
    key: new Uint8Array(32),
    header: new Uint8Array(24),
    hash: new Uint8Array(32),
    size: 9000,
    name: '語音訊息.ogg',
    mime: 'audio/ogg',
    expires: 1,
  };
  it('carry their length and waveform, strictly bounded', async () => {
    await initCrypto();
    const relay = formatRelayAddress({
      fingerprint: relayFingerprint(new Uint8Array(32).fill(5)),
      host: 'relay.example.org',
      port: 443,
      transport: 'wss',
    });
    const b = { ...file, relay, voice: { ms: 3200, wave: new Uint8Array(48).fill(9) } };
    expect(decodeFileBody(decodeCbor(encodeCbor(encodeFileBody(b))))).toEqual(b);
    const m = encodeFileBody(b);
    expect(() => decodeFileBody({ ...m, voice: { ms: 3200, wave: new Uint8Array(65) } })).toThrow(
      DecodeError,
    );
    expect(() => decodeFileBody({ ...m, voice: { ms: MAX_VOICE_MS + 1, wave: new Uint8Array(1) } })).toThrow(
      DecodeError,
    );
    expect(() => decodeFileBody({ ...m, voice: { ms: 1, wave: new Uint8Array(1), x: 1 } })).toThrow(
      DecodeError,
    );
    expect(() => encodeFileBody({ ...b, voice: { ms: -1, wave: new Uint8Array(1) } })).toThrow(UsageError);
  });
});
