import {
  AuthError,
  VerificationError,
  authenticateCommand,
  decodeClientFrame,
  deriveCommandAuthKey,
  encodeCbor,
  encodeFrame,
  generateDhKeyPair,
  initCrypto,
  systemRandom,
} from '@parus/core';
import type { AuthenticatedCommand, DhKeyPair, SendFrame, SubFrame } from '@parus/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CommandAuth } from '../src/command-auth.ts';

beforeAll(() => initCrypto());

/** A client's `sub` under `key`, authenticated for the connection `auth` stands for. */
function sub(auth: CommandAuth, key: DhKeyPair, id = 1): SubFrame {
  const frame: SubFrame = { t: 'sub', id, rid: systemRandom.bytes(24), auth: new Uint8Array(0) };
  const k = deriveCommandAuthKey(key.secretKey, auth.publicKey, auth.session, key.publicKey);
  frame.auth = authenticateCommand(k, auth.session, frame);
  return frame;
}

describe('CommandAuth', () => {
  it('accepts a command authenticated for its connection, once K is derived, from the cache', () => {
    const auth = new CommandAuth(systemRandom, systemRandom.bytes(32), 4);
    const key = generateDhKeyPair(systemRandom);
    for (let id = 1; id <= 3; id++) {
      const frame = sub(auth, key, id);
      expect(() => auth.check(key.publicKey, frame, frame.auth)).not.toThrow();
    }
    expect(auth.size).toBe(1);
  });

  it('refuses a missing authenticator, another key and another connection with AuthError', () => {
    const auth = new CommandAuth(systemRandom, systemRandom.bytes(32), 4);
    const other = new CommandAuth(systemRandom, systemRandom.bytes(32), 4);
    const key = generateDhKeyPair(systemRandom);
    const frame = sub(auth, key);
    expect(() => auth.check(key.publicKey, frame, undefined)).toThrow(AuthError);
    expect(() => auth.check(generateDhKeyPair(systemRandom).publicKey, frame, frame.auth)).toThrow(AuthError);
    expect(() => other.check(key.publicKey, frame, frame.auth)).toThrow(AuthError);
  });

  it('a low-order client key is a VerificationError', () => {
    const auth = new CommandAuth(systemRandom, systemRandom.bytes(32), 4);
    const frame: SubFrame = { t: 'sub', id: 1, rid: systemRandom.bytes(24), auth: new Uint8Array(32) };
    expect(() => auth.check(new Uint8Array(32), frame, frame.auth)).toThrow(VerificationError);
    expect(auth.size).toBe(0);
  });

  it('keeps at most maxKeys, drops the least recently used and wipes it; close wipes the rest', () => {
    const auth = new CommandAuth(systemRandom, systemRandom.bytes(32), 3);
    const keys = Array.from({ length: 4 }, () => generateDhKeyPair(systemRandom));
    const seen: Uint8Array[] = [];
    const spy = (auth as unknown as { keys: Map<string, Uint8Array> }).keys;
    const use = (key: DhKeyPair): void => {
      const frame = sub(auth, key);
      auth.check(key.publicKey, frame, frame.auth);
      for (const k of spy.values()) if (!seen.includes(k)) seen.push(k);
    };
    use(keys[0]!);
    use(keys[1]!);
    use(keys[2]!);
    use(keys[0]!); // keys[1] is now the least recently used
    use(keys[3]!);
    expect(auth.size).toBe(3);
    const evicted = seen[1]!;
    expect([...spy.values()]).not.toContain(evicted);
    expect(evicted.every((b) => b === 0)).toBe(true);
    // The evicted key still checks: K is derived again.
    use(keys[1]!);
    expect(auth.size).toBe(3);

    auth.close();
    expect(auth.size).toBe(0);
    expect(seen.every((k) => k.every((b) => b === 0))).toBe(true);
    const frame = sub(auth, keys[0]!);
    expect(() => auth.check(keys[0]!.publicKey, frame, frame.auth)).toThrow(AuthError);
  });

  it('checks the authenticator over the frame as received, on the native HMAC, for small and large frames', () => {
    const auth = new CommandAuth(systemRandom, systemRandom.bytes(32), 4);
    const key = generateDhKeyPair(systemRandom);
    const k = deriveCommandAuthKey(key.secretKey, auth.publicKey, auth.session, key.publicKey);
    // Up to the one-copy scratch (4 KiB) and past it (hashed piece by piece).
    for (const size of [0, 1, 200, 4000, 4100, 100_000]) {
      const frame: SendFrame = {
        t: 'send',
        id: size + 1,
        sid: systemRandom.bytes(24),
        body: systemRandom.bytes(size),
      };
      frame.auth = authenticateCommand(k, auth.session, frame);
      const received = encodeFrame(frame);
      const decoded = decodeClientFrame(received) as SendFrame;
      expect(() => auth.check(key.publicKey, decoded, decoded.auth, received)).not.toThrow();
      // A byte of the body changed on the way: the same auth no longer checks.
      if (size > 0) {
        const changed = received.slice();
        changed[changed.length - 1]! ^= 1;
        const tampered = decodeClientFrame(changed) as SendFrame;
        expect(() => auth.check(key.publicKey, tampered, tampered.auth, changed)).toThrow(AuthError);
      }
      // The right frame under another key, or another connection's session, fails too.
      const other = generateDhKeyPair(systemRandom);
      expect(() => auth.check(other.publicKey, decoded, decoded.auth, received)).toThrow(AuthError);
    }
  });

  it('covers what the sender sent, a field the relay does not know included', () => {
    const auth = new CommandAuth(systemRandom, systemRandom.bytes(32), 4);
    const key = generateDhKeyPair(systemRandom);
    const k = deriveCommandAuthKey(key.secretKey, auth.publicKey, auth.session, key.publicKey);
    const sent = {
      t: 'sub',
      id: 1,
      rid: systemRandom.bytes(24),
      x: 1,
      auth: new Uint8Array(0) as Uint8Array,
    };
    sent.auth = authenticateCommand(k, auth.session, sent as unknown as AuthenticatedCommand);
    const received = encodeCbor(sent as never);
    const decoded = decodeClientFrame(received) as SubFrame;
    expect(() => auth.check(key.publicKey, decoded, decoded.auth, received)).not.toThrow();
    // The field added on the way, after the sender authenticated the frame without it: refused.
    const bare = { t: 'sub', id: 2, rid: systemRandom.bytes(24), auth: new Uint8Array(0) as Uint8Array };
    bare.auth = authenticateCommand(k, auth.session, bare as SubFrame);
    const added = encodeCbor({ ...bare, x: 1 } as never);
    const addedFrame = decodeClientFrame(added) as SubFrame;
    expect(() => auth.check(key.publicKey, addedFrame, addedFrame.auth, added)).toThrow(AuthError);
  });
});
