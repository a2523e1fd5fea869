// The account's devices (account/device-registry.ts) and the snapshot a backup holds
// (account-snapshot.ts), with real accounts befriended over a real relay on loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthError,
  DecodeError,
  NotFoundError,
  ProtocolError,
  ReplayError,
  VerificationError,
  initCrypto,
  openAccountBackup,
  sealAccountBackup,
  systemRandom,
} from '@parus/core';
import { startRelay } from '@parus/relay';
import { Account, MemoryStore, decodeSnapshot, encodeSnapshot } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';
import { befriend } from './support/group-harness.ts';

type Relay = Awaited<ReturnType<typeof startRelay>>;
let relay: Relay;
let dataDir: string;
const open: Account[] = [];
/** libsodium's least Argon2id cost: these tests are about the log, not the cost. */
const LIGHT = { opsLimit: 1, memLimit: 8192 };
const PASS = 'alice passphrase 一二三';

beforeAll(async () => {
  await initCrypto();
  dataDir = mkdtempSync(join(tmpdir(), 'parus-devices-'));
  relay = await startRelay({ host: '127.0.0.1', port: 0, dataDir });
});

afterAll(async () => {
  for (const a of open) await a.close();
  await relay.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function account(name: string, store = new MemoryStore()): Promise<Account> {
  const a = await Account.create({ store, transport: nodeTransport(), name, relay: relay.address });
  open.push(a);
  return a;
}

describe('devices of an account', () => {
  it('a backup restores as a new device: both listed, the new one current; it revokes the old one with the passphrase', async () => {
    const alice = await account('Alice');
    const bob = await account('Bob');
    await befriend(alice, bob, 'alice');
    await alice.setContactState(alice.contacts()[0]!.alias, 'validated');
    await expect(alice.devices.list()).rejects.toThrow(NotFoundError);
    await alice.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
    const [laptop] = await alice.devices.list();
    expect(laptop).toMatchObject({ name: 'laptop', current: true, revoked: false });

    const file = sealAccountBackup({
      passphrase: PASS,
      payload: encodeSnapshot(await alice.snapshot()),
      rng: systemRandom,
      cost: LIGHT,
    });
    // The snapshot holds no ratchet state and no device secret of Alice's laptop.
    const bytes = openAccountBackup(file, PASS);
    const snapshot = decodeSnapshot(bytes);
    expect(snapshot.contacts).toHaveLength(1);
    expect(snapshot.contacts[0]!.state).toBe('validated');
    expect(Buffer.from(bytes).includes(Buffer.from(alice.deviceKey))).toBe(true); // the public key, in the log
    const restored = await account('Alice');
    await restored.restoreSnapshot(snapshot, { passphrase: PASS, deviceName: 'new laptop' });
    expect(restored.deviceKey).not.toEqual(alice.deviceKey);
    const listed = await restored.devices.list();
    expect(listed.map((d) => [d.name, d.current, d.revoked])).toEqual([
      ['laptop', false, false],
      ['new laptop', true, false],
    ]);
    expect((await restored.restoredContacts()).map((c) => c.state)).toEqual(['validated']);

    // A wrong passphrase revokes nothing.
    await expect(restored.devices.revoke(laptop!.id, 'not the passphrase')).rejects.toThrow(AuthError);
    expect((await restored.devices.list()).every((d) => !d.revoked)).toBe(true);
    const after = await restored.devices.revoke(laptop!.id.slice(0, 6), PASS);
    expect(after.map((d) => [d.name, d.revoked])).toEqual([
      ['laptop', true],
      ['new laptop', false],
    ]);
    // The last device cannot be revoked.
    await expect(restored.devices.revoke(after[1]!.id, PASS)).rejects.toThrow(ProtocolError);
  });

  it('refuses a restore with the wrong passphrase or a tampered backup, and a forged device log', async () => {
    const alice = await account('Alice');
    await alice.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
    const snapshot = await alice.snapshot();
    const file = sealAccountBackup({
      passphrase: PASS,
      payload: encodeSnapshot(snapshot),
      rng: systemRandom,
      cost: LIGHT,
    });
    expect(() => openAccountBackup(file, 'wrong passphrase')).toThrow(VerificationError);
    const tampered = file.slice();
    tampered[tampered.length - 5]! ^= 1;
    expect(() => openAccountBackup(tampered, PASS)).toThrow(VerificationError);

    // The right backup, but restoring with another passphrase: the account key does not match.
    const other = await account('Alice');
    await expect(
      other.restoreSnapshot(snapshot, { passphrase: 'another one', deviceName: 'x' }),
    ).rejects.toThrow(AuthError);
    await expect(other.devices.list()).rejects.toThrow(NotFoundError);

    // A log with one byte changed is refused by core's checks, and nothing is stored.
    const log = snapshot.devices.log.slice();
    log[log.length - 10]! ^= 1;
    await expect(
      other.restoreSnapshot(
        { ...snapshot, devices: { ...snapshot.devices, log } },
        { passphrase: PASS, deviceName: 'x' },
      ),
    ).rejects.toThrow(/./);
    await expect(other.devices.list()).rejects.toThrow(NotFoundError);
    expect(() => decodeSnapshot(encodeSnapshot(snapshot).subarray(1))).toThrow(DecodeError);
  });

  it('takes a linked device’s own add op; refuses ops of another account, other kinds, and replays', async () => {
    const alice = await account('Alice');
    await alice.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
    const linked = await account('Alice');
    await linked.restoreSnapshot(await alice.snapshot(), { passphrase: PASS, deviceName: 'phone' });
    const op = await linked.devices.lastOp();
    const added = await alice.devices.acceptAdd(op);
    expect(added).toMatchObject({ name: 'phone', current: false, revoked: false });
    await expect(alice.devices.acceptAdd(op)).rejects.toThrow(ReplayError);

    // A device of another account (another account key) cannot join Alice's log.
    const mallory = await account('Mallory');
    await mallory.devices.ensureLog({ passphrase: 'mallory pass', cost: LIGHT, name: 'evil' });
    const intruder = await account('Mallory');
    await intruder.restoreSnapshot(await mallory.snapshot(), {
      passphrase: 'mallory pass',
      deviceName: 'evil 2',
    });
    await expect(alice.devices.acceptAdd(await intruder.devices.lastOp())).rejects.toThrow(ProtocolError);

    // A revoke made on the linked device is not what a link carries back.
    const [laptop] = await linked.devices.list();
    const revoked = await linked.devices.revoke(laptop!.id, PASS);
    expect(revoked[0]!.revoked).toBe(true);
    await expect(alice.devices.acceptAdd(await linked.devices.lastOp())).rejects.toThrow(ProtocolError);
    expect((await alice.devices.list()).map((d) => d.name)).toEqual(['laptop', 'phone']);

    // Answered links are remembered until they expire.
    expect(await alice.devices.linkAnswered('00'.repeat(16))).toBe(false);
    await alice.devices.markLinkAnswered('00'.repeat(16), Date.now() + 60_000);
    expect(await alice.devices.linkAnswered('00'.repeat(16))).toBe(true);
  });
});
