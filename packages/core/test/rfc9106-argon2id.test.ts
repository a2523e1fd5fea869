/**
 * Argon2id (RFC 9106). The RFC's own vector (§5.3) uses a secret key and associated data,
 * which libsodium's crypto_pwhash does not take, so this file freezes one vector generated
 * once with our `argon2id` (libsodium's Argon2id v1.3) and asserts it from then on. It guards
 * against a change of library, parameters or encoding; it is not an independent known answer.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ARGON2ID_INTERACTIVE,
  argon2id,
  fromHex,
  initCrypto,
  toHex,
  UsageError,
  utf8,
} from '../src/index.ts';

describe('Argon2id (frozen vector)', () => {
  beforeAll(async () => {
    await initCrypto();
  });

  it('password, 16-byte salt, 2 passes, 64 MiB -> 32 bytes', () => {
    // Generated once on 2026-11-22 with libsodium 1.0.22 (libsodium-wrappers-sumo 0.8.4). Never regenerate.
    expect(ARGON2ID_INTERACTIVE).toEqual({ opsLimit: 2, memLimit: 64 * 1024 * 1024 });
    const out = argon2id(
      utf8('Parus: Tit is a kind of bird!'),
      fromHex('000102030405060708090a0b0c0d0e0f'),
      ARGON2ID_INTERACTIVE,
      32,
    );
    expect(toHex(out)).toBe('ab2725f3ec161cc09a21c7a55ad3368a31eb1beec829f7d914ccdc896eb424a4');
  });

  it('refuses a salt that is not 16 bytes with UsageError', () => {
    expect(() => argon2id(utf8('pw'), new Uint8Array(15), ARGON2ID_INTERACTIVE)).toThrow(UsageError);
  });
});
