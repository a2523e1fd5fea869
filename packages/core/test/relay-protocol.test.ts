/**
 * Command authenticators and the welcome of the relay protocol (relay-protocol.ts): the
 * construction against a vector computed apart from this code, and what a relay must be
 * able to rely on — the key, the connection and the frame are all bound; the codecs keep
 * `auth` and `dh` at their sizes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  COMMAND_AUTH_BYTES,
  DecodeError,
  RELAY_PROTOCOL_VERSION,
  UsageError,
  VerificationError,
  authenticateCommand,
  checkCommandAuth,
  commandAuthPieces,
  commandAuthPrefix,
  concatBytes,
  decodeClientFrame,
  hmacSha256,
  mapEntrySpan,
  packAckIds,
  decodeRelayFrame,
  deriveCommandAuthKey,
  dhKeyPairFromSecret,
  encodeCbor,
  encodeFrame,
  generateDhKeyPair,
  initCrypto,
  systemRandom,
  toHex,
  utf8,
  welcomeSigningBytes,
} from '../src/index.ts';
import type { AuthenticatedCommand, SendFrame, SubFrame, WelcomeFrame } from '../src/index.ts';

beforeAll(() => initCrypto());

const bytes = (n: number, f: (i: number) => number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => f(i));

describe('command authenticator, frozen vector', () => {
  // Computed once with node:crypto (OpenSSL X25519, HKDF-SHA-256, HMAC-SHA-256) over a
  // hand-built CBOR frame, not with this code; never regenerate it to make a test pass.
  const clientSecret = bytes(32, (i) => i + 1);
  const relaySecret = bytes(32, (i) => 0x80 + i);
  const session = bytes(32, (i) => 0xc0 ^ i);
  const frame: SubFrame = { t: 'sub', id: 7, rid: bytes(24, (i) => 0x30 + i), auth: new Uint8Array(0) };
  const expected = {
    clientPublic: '07a37cbc142093c8b755dc1b10e86cb426374ad16aa853ed0bdfc0b2b86d1c7c',
    relayPublic: '493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b010d531d',
    key: '0e2714922ce8080f8f4d22c23fa4af0a22ea7811ba7f645988aabdc5481bd984',
    cbor: 'a361746373756262696407637269645818303132333435363738393a3b3c3d3e3f4041424344454647',
    auth: '285ee00a9373bad7365a2930a85aff5d5a4e10b3857643c1a5c31ba299e29da4',
  };

  it('both sides derive the same K, and the authenticator matches', () => {
    const client = dhKeyPairFromSecret(clientSecret);
    const relay = dhKeyPairFromSecret(relaySecret);
    expect(toHex(client.publicKey)).toBe(expected.clientPublic);
    expect(toHex(relay.publicKey)).toBe(expected.relayPublic);
    const { auth: _auth, ...bare } = frame;
    expect(toHex(encodeCbor(bare as never))).toBe(expected.cbor);

    const clientK = deriveCommandAuthKey(clientSecret, relay.publicKey, session, client.publicKey);
    const relayK = deriveCommandAuthKey(relaySecret, client.publicKey, session, client.publicKey);
    expect(toHex(clientK)).toBe(expected.key);
    expect(toHex(relayK)).toBe(expected.key);
    const auth = authenticateCommand(clientK, session, frame);
    expect(toHex(auth)).toBe(expected.auth);
    expect(checkCommandAuth(relayK, session, { ...frame, auth }, auth)).toBe(true);
  });
});

describe('command authenticators', () => {
  function setup() {
    const queue = generateDhKeyPair(systemRandom);
    const relay = generateDhKeyPair(systemRandom);
    const session = systemRandom.bytes(32);
    const relayKey = (clientKey = queue.publicKey, s = session) =>
      deriveCommandAuthKey(relay.secretKey, clientKey, s, clientKey);
    const clientKey = (q = queue, s = session, relayDh = relay.publicKey) =>
      deriveCommandAuthKey(q.secretKey, relayDh, s, q.publicKey);
    const send: SendFrame = { t: 'send', id: 3, sid: systemRandom.bytes(24), body: systemRandom.bytes(40) };
    return { queue, relay, session, relayKey, clientKey, send };
  }

  it('checks under the key that made it, and the `auth` in the frame is not covered', () => {
    const s = setup();
    const auth = authenticateCommand(s.clientKey(), s.session, s.send);
    expect(auth).toHaveLength(COMMAND_AUTH_BYTES);
    expect(checkCommandAuth(s.relayKey(), s.session, s.send, auth)).toBe(true);
    expect(checkCommandAuth(s.relayKey(), s.session, { ...s.send, auth }, auth)).toBe(true);
  });

  it('fails for another queue key, another session, another relay key or another frame', () => {
    const s = setup();
    const auth = authenticateCommand(s.clientKey(), s.session, s.send);
    const other = generateDhKeyPair(systemRandom);
    // Another queue key: what a stranger holding their own key can make.
    const forged = authenticateCommand(s.clientKey(other), s.session, s.send);
    expect(checkCommandAuth(s.relayKey(), s.session, s.send, forged)).toBe(false);
    // The relay checking under the queue's key a K that another key made.
    expect(checkCommandAuth(s.relayKey(other.publicKey), s.session, s.send, auth)).toBe(false);
    // Another connection: another session nonce, another relay key, or both.
    const session2 = systemRandom.bytes(32);
    expect(checkCommandAuth(s.relayKey(s.queue.publicKey, session2), session2, s.send, auth)).toBe(false);
    const relay2 = generateDhKeyPair(systemRandom);
    const k2 = deriveCommandAuthKey(relay2.secretKey, s.queue.publicKey, s.session, s.queue.publicKey);
    expect(checkCommandAuth(k2, s.session, s.send, auth)).toBe(false);
    // Any field of the frame changed.
    const changes: AuthenticatedCommand[] = [
      { ...s.send, id: 4 },
      { ...s.send, body: s.send.body.slice(1) },
      { ...s.send, sid: systemRandom.bytes(24) },
      { t: 'ack', id: 3, rid: s.send.sid, mid: systemRandom.bytes(16), auth },
    ];
    for (const frame of changes) expect(checkCommandAuth(s.relayKey(), s.session, frame, auth)).toBe(false);
    // A flipped bit, a short or empty authenticator.
    const flipped = auth.slice();
    flipped[0]! ^= 1;
    expect(checkCommandAuth(s.relayKey(), s.session, s.send, flipped)).toBe(false);
    expect(checkCommandAuth(s.relayKey(), s.session, s.send, auth.subarray(0, 31))).toBe(false);
    expect(checkCommandAuth(s.relayKey(), s.session, s.send, new Uint8Array(0))).toBe(false);
  });

  it('K names the client key: the same shared secret under another key bytes gives another K', () => {
    const s = setup();
    const a = deriveCommandAuthKey(s.relay.secretKey, s.queue.publicKey, s.session, s.queue.publicKey);
    const b = deriveCommandAuthKey(s.relay.secretKey, s.queue.publicKey, s.session, systemRandom.bytes(32));
    expect(toHex(a)).not.toBe(toHex(b));
  });

  it('a low-order key is a VerificationError, on either side', () => {
    const s = setup();
    for (const low of [new Uint8Array(32), bytes(32, (i) => (i === 0 ? 1 : 0))]) {
      expect(() => deriveCommandAuthKey(s.relay.secretKey, low, s.session, low)).toThrow(VerificationError);
      expect(() => deriveCommandAuthKey(s.queue.secretKey, low, s.session, s.queue.publicKey)).toThrow(
        VerificationError,
      );
    }
  });

  it('refuses inputs of the wrong size', () => {
    const s = setup();
    expect(() =>
      deriveCommandAuthKey(s.queue.secretKey, s.relay.publicKey, new Uint8Array(31), s.queue.publicKey),
    ).toThrow(UsageError);
    expect(() =>
      deriveCommandAuthKey(s.queue.secretKey, s.relay.publicKey, s.session, new Uint8Array(31)),
    ).toThrow(VerificationError);
    expect(() => authenticateCommand(new Uint8Array(31), s.session, s.send)).toThrow(UsageError);
    expect(() => authenticateCommand(s.clientKey(), new Uint8Array(0), s.send)).toThrow(UsageError);
  });
});

describe('authenticators over the frame as received', () => {
  const session = systemRandom.bytes(32);
  const key = systemRandom.bytes(32);
  const covered = (received: Uint8Array): Uint8Array =>
    concatBytes(commandAuthPrefix(session), ...commandAuthPieces(received)!);

  it('covers the bytes authenticateCommand covers, for every command shape the relay takes', () => {
    const frames: AuthenticatedCommand[] = [
      {
        t: 'send',
        id: 3,
        sid: systemRandom.bytes(24),
        body: systemRandom.bytes(300),
        auth: new Uint8Array(0),
      },
      {
        t: 'send',
        id: 70_000,
        sid: systemRandom.bytes(24),
        body: new Uint8Array(0),
        auth: new Uint8Array(0),
      },
      { t: 'ack', id: 1, rid: systemRandom.bytes(24), mid: systemRandom.bytes(16), auth: new Uint8Array(0) },
      {
        t: 'ack',
        id: 2 ** 40,
        rid: systemRandom.bytes(24),
        mids: packAckIds([systemRandom.bytes(16), systemRandom.bytes(16)]),
        auth: new Uint8Array(0),
      },
      { t: 'sub', id: 9, rid: systemRandom.bytes(24), auth: new Uint8Array(0) },
      { t: 'del', id: 10, rid: systemRandom.bytes(24), auth: new Uint8Array(0) },
      {
        t: 'new',
        id: 11,
        rk: systemRandom.bytes(32),
        rdh: systemRandom.bytes(32),
        sk: systemRandom.bytes(32),
        auth: new Uint8Array(0),
      },
      {
        t: 'secure',
        id: 12,
        rid: systemRandom.bytes(24),
        sk: systemRandom.bytes(32),
        auth: new Uint8Array(0),
      },
    ];
    for (const frame of frames) {
      frame.auth = authenticateCommand(key, session, frame);
      const received = encodeFrame(frame);
      const decoded = decodeClientFrame(received) as AuthenticatedCommand;
      expect(toHex(hmacSha256(key, covered(received)))).toBe(toHex(decoded.auth!));
    }
  });

  it('covers a field the relay does not know, as sent, and every byte of the frame but the auth entry', () => {
    const frame = {
      t: 'sub',
      id: 9,
      rid: systemRandom.bytes(24),
      zz: 5,
      auth: new Uint8Array(0) as Uint8Array,
    };
    frame.auth = authenticateCommand(key, session, frame as unknown as SubFrame);
    const received = encodeCbor(frame as never);
    // The decoder drops `zz`; the bytes as received keep it, and the sender covered it.
    expect('zz' in decodeClientFrame(received)).toBe(false);
    expect(toHex(hmacSha256(key, covered(received)))).toBe(toHex(frame.auth));
    // Any byte outside the auth entry changed (in a frame that still decodes) changes what
    // is covered, or leaves no auth entry to find.
    const span = mapEntrySpan(received, 'auth')!;
    let checked = 0;
    for (let i = 0; i < received.length; i++) {
      if (i >= span.start && i < span.end) continue;
      const changed = received.slice();
      changed[i]! ^= 1;
      try {
        decodeClientFrame(changed);
      } catch {
        continue;
      }
      checked += 1;
      if (commandAuthPieces(changed) === undefined) continue;
      expect(toHex(covered(changed))).not.toBe(toHex(covered(received)));
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('finds no auth in a frame without one', () => {
    const ping = encodeFrame({ t: 'ping', id: 1 });
    expect(commandAuthPieces(ping)).toBeUndefined();
    const send = encodeFrame({ t: 'send', id: 1, sid: systemRandom.bytes(24), body: utf8('auth') });
    expect(commandAuthPieces(send)).toBeUndefined();
  });

  it('mapEntrySpan walks nested values and refuses what is not a map', () => {
    const bytes = encodeCbor({ a: [1, { b: utf8('x') }, 'text'], auth: 7, z: null });
    const span = mapEntrySpan(bytes, 'auth')!;
    expect(span.entries).toBe(3);
    expect(toHex(bytes.subarray(span.start, span.end))).toBe(toHex(encodeCbor({ auth: 7 }).subarray(1)));
    expect(mapEntrySpan(bytes, 'missing')).toBeUndefined();
    expect(() => mapEntrySpan(encodeCbor([1, 2]), 'auth')).toThrow(DecodeError);
    expect(() => mapEntrySpan(bytes.subarray(0, 5), 'auth')).toThrow(DecodeError);
  });
});

describe('codecs', () => {
  const rid = systemRandom.bytes(24);

  it('commands carry a 32-byte auth; a 64-byte signature or a missing auth does not decode', () => {
    const auth = systemRandom.bytes(32);
    const sub: SubFrame = { t: 'sub', id: 1, rid, auth };
    expect(decodeClientFrame(encodeFrame(sub))).toEqual(sub);
    expect(() => decodeClientFrame(encodeFrame({ ...sub, auth: systemRandom.bytes(64) }))).toThrow(
      DecodeError,
    );
    expect(() =>
      decodeClientFrame(encodeCbor({ t: 'sub', id: 1, rid, sig: systemRandom.bytes(64) })),
    ).toThrow(DecodeError);
    const send: SendFrame = { t: 'send', id: 2, sid: rid, body: new Uint8Array(3) };
    expect(decodeClientFrame(encodeFrame(send))).toEqual(send);
    expect(decodeClientFrame(encodeFrame({ ...send, auth }))).toEqual({ ...send, auth });
    expect(() => decodeClientFrame(encodeFrame({ ...send, auth: auth.subarray(1) }))).toThrow(DecodeError);
  });

  it('welcome carries the relay’s 32-byte dh, which its signature covers', () => {
    const welcome = welcomeFrame();
    expect(decodeRelayFrame(encodeFrame(welcome))).toEqual(welcome);
    const { dh: _dh, ...withoutDh } = welcome;
    expect(() => decodeRelayFrame(encodeCbor(withoutDh as never))).toThrow(DecodeError);
    expect(() => decodeRelayFrame(encodeFrame({ ...welcome, dh: systemRandom.bytes(31) }))).toThrow(
      DecodeError,
    );

    const challenge = systemRandom.bytes(32);
    const signed = welcomeSigningBytes(challenge, welcome.session, welcome.dh);
    const otherDh = welcomeSigningBytes(challenge, welcome.session, systemRandom.bytes(32));
    expect(toHex(signed)).not.toBe(toHex(otherDh));
    expect(toHex(signed.subarray(signed.length - 32))).toBe(toHex(welcome.dh));
    expect(() => welcomeSigningBytes(challenge, welcome.session, new Uint8Array(31))).toThrow(UsageError);
  });

  it('welcome may announce the relay’s frame rate limit; only a whole, positive pair counts', () => {
    const welcome = welcomeFrame();
    expect(decodeRelayFrame(encodeFrame({ ...welcome, rate: 500, burst: 1000 }))).toEqual({
      ...welcome,
      rate: 500,
      burst: 1000,
    });
    expect(decodeRelayFrame(encodeFrame({ ...welcome, rate: 500 }))).toEqual(welcome);
    expect(decodeRelayFrame(encodeFrame({ ...welcome, rate: 0, burst: 10 }))).toEqual(welcome);
    expect(() => decodeRelayFrame(encodeFrame({ ...welcome, rate: -1, burst: 10 }))).toThrow(DecodeError);
  });
});

function welcomeFrame(): WelcomeFrame {
  return {
    t: 'welcome',
    v: RELAY_PROTOCOL_VERSION,
    key: systemRandom.bytes(32),
    session: systemRandom.bytes(32),
    dh: systemRandom.bytes(32),
    sig: systemRandom.bytes(64),
  };
}
