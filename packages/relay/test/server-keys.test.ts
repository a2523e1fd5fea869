import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCrypto, parseRelayAddress, relayFingerprint, systemRandom } from '@parus/core';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SERVER_KEY_FILE, loadOrCreateServerKeys, relayAddressFor } from '../src/index.ts';

let dir: string;
beforeAll(() => initCrypto());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'parus-keys-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('server keys', () => {
  it('creates the key once, with mode 0600, and loads the same key afterwards', () => {
    const logs: string[] = [];
    const first = loadOrCreateServerKeys({ dataDir: dir, rng: systemRandom, log: (l) => logs.push(l) });
    expect(statSync(join(dir, SERVER_KEY_FILE)).mode & 0o777).toBe(0o600);
    const second = loadOrCreateServerKeys({ dataDir: dir, rng: systemRandom });
    expect(second.sign.publicKey).toEqual(first.sign.publicKey);
    expect(second.sign.secretKey).toEqual(first.sign.secretKey);
    expect(second.dh).toEqual(first.dh);
    expect(first.fingerprint).toEqual(relayFingerprint(first.sign.publicKey));
    expect(logs).toEqual(['created a new relay key']);
  });

  it('tightens a key file that others could read', () => {
    loadOrCreateServerKeys({ dataDir: dir, rng: systemRandom });
    chmodSync(join(dir, SERVER_KEY_FILE), 0o644);
    const logs: string[] = [];
    loadOrCreateServerKeys({ dataDir: dir, rng: systemRandom, log: (l) => logs.push(l) });
    expect(statSync(join(dir, SERVER_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(logs).toHaveLength(1);
  });

  it('formats addresses, bracketing IPv6 literals', () => {
    const keys = loadOrCreateServerKeys({ dataDir: dir, rng: systemRandom });
    expect(parseRelayAddress(relayAddressFor(keys, 'localhost', 7400))).toMatchObject({
      host: 'localhost',
      port: 7400,
      fingerprint: keys.fingerprint,
    });
    expect(parseRelayAddress(relayAddressFor(keys, '::1', 7400)).host).toBe('[::1]');
  });
});
