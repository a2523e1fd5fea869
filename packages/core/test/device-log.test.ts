import { beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../src/bytes.ts';
import { decodeCbor, encodeCbor, type CborMap } from '../src/cbor.ts';
import {
  generateSignKeyPair,
  generateXwingKeyPair,
  generateDhKeyPair,
  initCrypto,
  type SignKeyPair,
} from '../src/crypto.ts';
import {
  accountKeyFromPassphrase,
  applyDeviceOp,
  createDeviceEntry,
  createDeviceOp,
  createGenesisOp,
  currentDevices,
  decodeDeviceLog,
  decodeDeviceOp,
  deviceId,
  deviceOpHash,
  encodeDeviceLog,
  mergeDeviceLogs,
  encodeDeviceOp,
  deviceOpStillHolds,
  resignDeviceOp,
  startDeviceLog,
  type DeviceLogState,
  type DeviceOp,
} from '../src/device-log.ts';
import {
  AuthError,
  DecodeError,
  ProtocolError,
  ReplayError,
  UsageError,
  VerificationError,
} from '../src/errors.ts';
import {
  expectMutationsRejected,
  expectTruncationsRejected,
  scriptedRandom,
} from './contact-test-helpers.ts';
import frozen from './vectors/device-log.json' with { type: 'json' };
import frozenPassphrase from './vectors/device-log-passphrase.json' with { type: 'json' };

const T0 = 1_765_000_000_000;
/** The lightest Argon2id libsodium allows: the vectors test the derivation, not its cost. */
const LIGHT = { opsLimit: 1, memLimit: 8192 };

interface Device {
  key: SignKeyPair;
  entry: ReturnType<typeof createDeviceEntry>;
}

let rng: ReturnType<typeof scriptedRandom>;
let laptop: Device;
let phone: Device;
let tablet: Device;
let accountKey: SignKeyPair;
let otherAccount: SignKeyPair;

function device(name: string): Device {
  const key = generateSignKeyPair(rng);
  return {
    key,
    entry: createDeviceEntry({
      device: key,
      dh: generateDhKeyPair(rng).publicKey,
      kem: generateXwingKeyPair(rng).publicKey,
      name,
    }),
  };
}

/** The frozen log: genesis (laptop), add phone, add tablet, revoke tablet, passphrase change. */
function buildLog(): { ops: DeviceOp[]; state: DeviceLogState; newAccountKey: SignKeyPair } {
  const ops: DeviceOp[] = [];
  ops.push(createGenesisOp({ device: laptop.key, entry: laptop.entry, accountKey, time: T0 }));
  let state = startDeviceLog(ops[0]!);
  const step = (op: DeviceOp): void => {
    state = applyDeviceOp(state, op);
    ops.push(op);
  };
  step(
    createDeviceOp(state, { type: 'add', entry: phone.entry, device: laptop.key, accountKey, time: T0 + 1 }),
  );
  step(
    createDeviceOp(state, { type: 'add', entry: tablet.entry, device: phone.key, accountKey, time: T0 + 2 }),
  );
  step(
    createDeviceOp(state, {
      type: 'revoke',
      id: deviceId(tablet.key.publicKey),
      device: phone.key,
      accountKey,
      time: T0 + 3,
    }),
  );
  const newAccountKey = accountKeyFromPassphrase(
    new TextEncoder().encode('a new passphrase'),
    fromHex(frozen.salt),
    LIGHT,
  );
  step(
    createDeviceOp(state, {
      type: 'passphrase',
      newAccountKey,
      device: laptop.key,
      accountKey,
      time: T0 + 4,
    }),
  );
  return { ops, state, newAccountKey };
}

beforeAll(async () => {
  await initCrypto();
  rng = scriptedRandom('device-log');
  laptop = device('laptop');
  phone = device('phone 手機');
  tablet = device('tablet');
  accountKey = accountKeyFromPassphrase(
    new TextEncoder().encode('correct horse'),
    fromHex(frozen.salt),
    LIGHT,
  );
  otherAccount = generateSignKeyPair(rng);
});

function refusedUnchanged(state: DeviceLogState, op: DeviceOp, cls: new (...a: never[]) => Error): void {
  const before = JSON.stringify(state, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v));
  expect(() => applyDeviceOp(state, op)).toThrow(cls);
  expect(JSON.stringify(state, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v))).toBe(before);
}

describe('device log', () => {
  it('matches the frozen vectors (never regenerate them)', () => {
    const { ops, state } = buildLog();
    expect(toHex(accountKey.publicKey)).toBe(frozen.accountKey);
    expect(toHex(encodeDeviceLog(ops))).toBe(frozen.log);
    const decoded = decodeDeviceLog(fromHex(frozen.log));
    expect(toHex(decoded.state.account)).toBe(frozen.account);
    expect(toHex(decoded.state.accountKey)).toBe(toHex(state.accountKey));
    expect(decoded.state.devices.map((d) => [d.id, d.name, d.revoked !== undefined])).toEqual(frozen.devices);
  });

  it('matches the frozen vector of a passphrase op with its salt and cost (decision 0061; never regenerate)', () => {
    const { ops } = buildLog();
    const state = decodeDeviceLog(encodeDeviceLog(ops.slice(0, 4))).state;
    const salt = fromHex(frozenPassphrase.salt);
    const newAccountKey = accountKeyFromPassphrase(
      new TextEncoder().encode('the newer passphrase'),
      salt,
      LIGHT,
    );
    const op = createDeviceOp(state, {
      type: 'passphrase',
      newAccountKey,
      params: { salt, cost: LIGHT },
      device: laptop.key,
      accountKey,
      time: T0 + 5,
    });
    expect(toHex(newAccountKey.publicKey)).toBe(frozenPassphrase.newAccountKey);
    expect(toHex(encodeDeviceOp(op))).toBe(frozenPassphrase.op);
    expect(toHex(deviceOpHash(op))).toBe(frozenPassphrase.hash);
    const after = applyDeviceOp(state, decodeDeviceOp(fromHex(frozenPassphrase.op)));
    expect(toHex(after.accountKey)).toBe(frozenPassphrase.newAccountKey);
    expect(toHex(after.accountParams!.salt)).toBe(frozenPassphrase.salt);
    expect(after.accountParams!.cost).toEqual(LIGHT);
  });

  it('lists current devices, names and ids; ids are 16 hex digits', () => {
    const { state } = buildLog();
    expect(currentDevices(state).map((d) => d.name)).toEqual(['laptop', 'phone 手機']);
    for (const d of state.devices) expect(d.id).toMatch(/^[0-9a-f]{16}$/);
    expect(state.seq).toBe(4);
  });

  it('round-trips each op byte for byte', () => {
    for (const op of buildLog().ops) {
      const bytes = encodeDeviceOp(op);
      expect(toHex(encodeDeviceOp(decodeDeviceOp(bytes)))).toBe(toHex(bytes));
    }
  });

  it('refuses truncations and mutations of an op with typed errors', () => {
    const { ops } = buildLog();
    const add = encodeDeviceOp(ops[1]!);
    expectTruncationsRejected(add, decodeDeviceOp);
    // The account key's signature is checked against the log (it may have changed since), so
    // a mutation is refused by decoding or by applying the op.
    const genesis = startDeviceLog(ops[0]!);
    expectMutationsRejected(add, (b) => applyDeviceOp(genesis, decodeDeviceOp(b)), {
      count: 400,
      seed: 12,
      versionOffset: -1,
      allowed: [DecodeError, VerificationError, AuthError],
    });
  });

  it('refuses a forged signature (VerificationError), state unchanged', () => {
    const { ops } = buildLog();
    const state = startDeviceLog(ops[0]!);
    const forged = { ...ops[1]!, sig: ops[1]!.asig };
    refusedUnchanged(state, forged, VerificationError);
    expect(() => decodeDeviceOp(encodeDeviceOp(forged))).toThrow(VerificationError);
  });

  it('refuses an op not signed by a current device (AuthError): a stranger, then a revoked device', () => {
    const { ops } = buildLog();
    let state = startDeviceLog(ops[0]!);
    const stranger = generateSignKeyPair(rng);
    expect(() =>
      createDeviceOp(state, {
        type: 'revoke',
        id: deviceId(laptop.key.publicKey),
        device: stranger,
        accountKey,
        time: T0,
      }),
    ).toThrow(AuthError);
    for (const o of ops.slice(1, 4)) state = applyDeviceOp(state, o);
    // The tablet is revoked now: anything it signs is refused.
    expect(() =>
      createDeviceOp(state, {
        type: 'revoke',
        id: deviceId(phone.key.publicKey),
        device: tablet.key,
        accountKey,
        time: T0 + 9,
      }),
    ).toThrow(AuthError);
  });

  it('refuses a revocation without the passphrase proof (AuthError), and a passphrase op the new key did not sign', () => {
    const { ops } = buildLog();
    let state = startDeviceLog(ops[0]!);
    state = applyDeviceOp(state, ops[1]!);
    expect(() =>
      createDeviceOp(state, {
        type: 'revoke',
        id: deviceId(phone.key.publicKey),
        device: laptop.key,
        accountKey: otherAccount,
        time: T0 + 5,
      }),
    ).toThrow(AuthError);
    // An add signed by a device of the account but not by the account key: a stolen device
    // cannot link a device of its own.
    expect(() =>
      createDeviceOp(state, {
        type: 'add',
        entry: tablet.entry,
        device: phone.key,
        accountKey: otherAccount,
        time: T0,
      }),
    ).toThrow(AuthError);
    const passphrase = createDeviceOp(state, {
      type: 'passphrase',
      newAccountKey: otherAccount,
      device: laptop.key,
      accountKey,
      time: T0 + 6,
    });
    refusedUnchanged(state, { ...passphrase, nsig: passphrase.asig }, AuthError);
  });

  it('after a passphrase change only the new account key counts', () => {
    const { state, newAccountKey } = buildLog();
    expect(() =>
      createDeviceOp(state, {
        type: 'revoke',
        id: deviceId(phone.key.publicKey),
        device: laptop.key,
        accountKey,
        time: T0 + 7,
      }),
    ).toThrow(AuthError);
    const ok = createDeviceOp(state, {
      type: 'revoke',
      id: deviceId(phone.key.publicKey),
      device: laptop.key,
      accountKey: newAccountKey,
      time: T0 + 7,
    });
    expect(currentDevices(applyDeviceOp(state, ok)).map((d) => d.name)).toEqual(['laptop']);
  });

  it('a passphrase op names the new key’s salt and cost (decision 0061): kept in the state, bounded, signed', () => {
    const { ops } = buildLog();
    const state = decodeDeviceLog(encodeDeviceLog(ops.slice(0, 2))).state;
    expect(state.accountParams).toBeUndefined();
    const salt = rng.bytes(16);
    const newKey = accountKeyFromPassphrase(new TextEncoder().encode('another one'), salt, LIGHT);
    const op = createDeviceOp(state, {
      type: 'passphrase',
      newAccountKey: newKey,
      params: { salt, cost: LIGHT },
      device: phone.key,
      accountKey,
      time: T0 + 5,
    });
    const bytes = encodeDeviceOp(op);
    expect(toHex(encodeDeviceOp(decodeDeviceOp(bytes)))).toBe(toHex(bytes));
    const after = applyDeviceOp(state, decodeDeviceOp(bytes));
    expect(toHex(after.accountKey)).toBe(toHex(newKey.publicKey));
    expect(toHex(after.accountParams!.salt)).toBe(toHex(salt));
    expect(after.accountParams!.cost).toEqual(LIGHT);
    // The log read again says the same.
    expect(decodeDeviceLog(encodeDeviceLog([ops[0]!, ops[1]!, op])).state.accountParams!.cost).toEqual(LIGHT);
    // A changed salt breaks the device's signature; a cost out of bounds is refused before.
    const m = decodeCbor(bytes) as CborMap;
    const body = m.body as CborMap;
    const otherSalt = (body.salt as Uint8Array).slice();
    otherSalt[0]! ^= 1;
    expect(() => decodeDeviceOp(encodeCbor({ ...m, body: { ...body, salt: otherSalt } }))).toThrow(
      VerificationError,
    );
    expect(() => decodeDeviceOp(encodeCbor({ ...m, body: { ...body, mem: 4 << 30 } }))).toThrow(DecodeError);
    expect(() => decodeDeviceOp(encodeCbor({ ...m, body: { ...body, ops: 0 } }))).toThrow(DecodeError);
    const { salt: _s, ...noSalt } = body;
    expect(() => decodeDeviceOp(encodeCbor({ ...m, body: noSalt }))).toThrow(DecodeError);
    expect(() =>
      createDeviceOp(state, {
        type: 'passphrase',
        newAccountKey: newKey,
        params: { salt, cost: { opsLimit: 1, memLimit: 4 << 30 } },
        device: phone.key,
        accountKey,
        time: T0 + 5,
      }),
    ).toThrow(UsageError);
  });

  it('refuses a replayed op (ReplayError) and a fork (ProtocolError), state unchanged', () => {
    const { ops } = buildLog();
    let state = startDeviceLog(ops[0]!);
    state = applyDeviceOp(state, ops[1]!);
    refusedUnchanged(state, ops[1]!, ReplayError);
    refusedUnchanged(state, ops[0]!, ReplayError);
    // Another op on the genesis, as a second device offline would have made: a fork.
    const fork = createDeviceOp(startDeviceLog(ops[0]!), {
      type: 'add',
      entry: tablet.entry,
      device: laptop.key,
      accountKey,
      time: T0 + 1,
    });
    refusedUnchanged(state, fork, ProtocolError);
    // An op from further on leaves a gap.
    refusedUnchanged(state, ops[3]!, ProtocolError);
  });

  it('a restored device adds itself with the passphrase alone; re-adding or revoking the last device is refused', () => {
    const { ops } = buildLog();
    const state = startDeviceLog(ops[0]!);
    const restored = device('restored');
    const self = createDeviceOp(state, {
      type: 'add',
      entry: restored.entry,
      device: restored.key,
      accountKey,
      time: T0 + 8,
    });
    const after = applyDeviceOp(state, self);
    expect(currentDevices(after)).toHaveLength(2);
    expect(() =>
      createDeviceOp(after, {
        type: 'add',
        entry: restored.entry,
        device: laptop.key,
        accountKey,
        time: T0 + 9,
      }),
    ).toThrow(ProtocolError);
    // Someone else's entry signed in by a stranger is not a self-add.
    const stranger = generateSignKeyPair(rng);
    expect(() =>
      createDeviceOp(state, {
        type: 'add',
        entry: restored.entry,
        device: stranger,
        accountKey,
        time: T0 + 8,
      }),
    ).toThrow(AuthError);
    expect(() =>
      createDeviceOp(state, {
        type: 'revoke',
        id: deviceId(laptop.key.publicKey),
        device: laptop.key,
        accountKey,
        time: T0,
      }),
    ).toThrow(ProtocolError);
  });

  it('refuses an entry whose proof of possession is not its key’s, and bad names', () => {
    const { ops } = buildLog();
    const add = ops[1]!;
    if (add.type !== 'add') throw new Error('expected an add');
    const stolen = { ...add, device: { ...add.device, sign: tablet.key.publicKey } };
    // Re-encoding keeps the signature by `by`, which no longer covers the changed entry.
    expect(() => decodeDeviceOp(encodeDeviceOp(stolen))).toThrow(VerificationError);
    expect(() =>
      createDeviceEntry({ device: laptop.key, dh: laptop.entry.dh, kem: laptop.entry.kem, name: 'a\u202eb' }),
    ).toThrow(UsageError);
    expect(() =>
      createDeviceEntry({ device: laptop.key, dh: laptop.entry.dh, kem: laptop.entry.kem, name: '' }),
    ).toThrow(UsageError);
  });

  it('refuses a log that does not start with a genesis, or is not a log', () => {
    const { ops } = buildLog();
    expect(() => decodeDeviceLog(encodeDeviceLog(ops.slice(1)))).toThrow(ProtocolError);
    expect(() => decodeDeviceLog(new Uint8Array([0x80]))).toThrow(DecodeError);
    expect(() => decodeDeviceLog(encodeDeviceLog([ops[0]!, ops[2]!]))).toThrow(ProtocolError);
  });
});

describe('device logs of two own devices brought together (fork rule, decision 0030)', () => {
  it('takes the longer of a prefix, and the branch whose op at the fork has the lower hash', () => {
    const { ops } = buildLog();
    const head = ops.slice(0, 2); // laptop and phone
    const state = decodeDeviceLog(encodeDeviceLog(head)).state;
    // Both devices add a device on the same head while they cannot reach each other.
    const byLaptop = createDeviceOp(state, {
      type: 'add',
      entry: tablet.entry,
      device: laptop.key,
      accountKey,
      time: T0 + 10,
    });
    const other = device('desktop');
    const byPhone = createDeviceOp(state, {
      type: 'add',
      entry: other.entry,
      device: phone.key,
      accountKey,
      time: T0 + 11,
    });
    const a = encodeDeviceLog([...head, byLaptop]);
    const b = encodeDeviceLog([...head, byPhone]);
    const ab = mergeDeviceLogs(a, b);
    const ba = mergeDeviceLogs(b, a);
    // Both devices keep the same branch.
    expect(toHex(encodeDeviceLog(ab.ops))).toBe(toHex(encodeDeviceLog(ba.ops)));
    const winner = toHex(deviceOpHash(byLaptop)) < toHex(deviceOpHash(byPhone)) ? byLaptop : byPhone;
    const loser = winner === byLaptop ? byPhone : byLaptop;
    expect(toHex(deviceOpHash(ab.ops[2]!))).toBe(toHex(deviceOpHash(winner)));
    // The device whose op lost is told which op to sign again.
    const losersView = winner === byLaptop ? mergeDeviceLogs(b, a) : mergeDeviceLogs(a, b);
    expect(losersView.changed).toBe(true);
    expect(losersView.dropped.map((o) => toHex(deviceOpHash(o)))).toEqual([toHex(deviceOpHash(loser))]);
    // A prefix brings nothing; the longer log is taken.
    expect(mergeDeviceLogs(encodeDeviceLog(ops), encodeDeviceLog(head)).changed).toBe(false);
    const longer = mergeDeviceLogs(encodeDeviceLog(head), encodeDeviceLog(ops));
    expect(longer.changed).toBe(true);
    expect(longer.ops).toHaveLength(ops.length);
  });

  it('the op that lost a fork is signed again on the winning head when it still holds (0061)', () => {
    const { ops } = buildLog();
    const head = ops.slice(0, 3); // laptop, phone, tablet
    const state = decodeDeviceLog(encodeDeviceLog(head)).state;
    const desk = device('desk');
    // Offline from each other: the laptop revokes the tablet, the phone links a desk.
    const revoke = createDeviceOp(state, {
      type: 'revoke',
      id: deviceId(tablet.key.publicKey),
      device: laptop.key,
      accountKey,
      time: T0 + 20,
    });
    const add = createDeviceOp(state, {
      type: 'add',
      entry: desk.entry,
      device: phone.key,
      accountKey,
      time: T0 + 21,
    });
    const a = encodeDeviceLog([...head, revoke]);
    const b = encodeDeviceLog([...head, add]);
    const revokeWins = toHex(deviceOpHash(revoke)) < toHex(deviceOpHash(add));
    const loserLog = revokeWins ? b : a;
    const winnerLog = revokeWins ? a : b;
    const merged = mergeDeviceLogs(loserLog, winnerLog);
    expect(merged.dropped).toHaveLength(1);
    const lost = merged.dropped[0]!;
    expect(deviceOpStillHolds(merged.state, lost)).toBe(true);
    const author = lost === revoke || lost.type === 'revoke' ? laptop : phone;
    // Another device than its author, or the wrong account key, cannot sign it again.
    expect(() =>
      resignDeviceOp(merged.state, lost, {
        device: author === laptop ? phone.key : laptop.key,
        accountKey,
        time: T0 + 22,
      }),
    ).toThrow(UsageError);
    expect(() =>
      resignDeviceOp(merged.state, lost, { device: author.key, accountKey: otherAccount, time: T0 + 22 }),
    ).toThrow(AuthError);
    const again = resignDeviceOp(merged.state, lost, { device: author.key, accountKey, time: T0 + 22 });
    const final = encodeDeviceLog([...merged.ops, again]);
    // Both sides end with the same log, holding both intents: tablet revoked, desk added.
    expect(mergeDeviceLogs(winnerLog, final).changed).toBe(true);
    expect(toHex(encodeDeviceLog(mergeDeviceLogs(winnerLog, final).ops))).toBe(toHex(final));
    expect(mergeDeviceLogs(final, winnerLog).changed).toBe(false);
    expect(
      currentDevices(decodeDeviceLog(final).state)
        .map((d) => d.name)
        .sort(),
    ).toEqual(['desk', 'laptop', 'phone 手機']);
  });

  it('an op that lost a fork and no longer holds is dropped: a device revoked on both branches, a passphrase changed on both', () => {
    const { ops } = buildLog();
    const head = ops.slice(0, 3);
    const state = decodeDeviceLog(encodeDeviceLog(head)).state;
    const revokeBy = (d: Device, time: number): DeviceOp =>
      createDeviceOp(state, {
        type: 'revoke',
        id: deviceId(tablet.key.publicKey),
        device: d.key,
        accountKey,
        time,
      });
    const r1 = revokeBy(laptop, T0 + 30);
    const r2 = revokeBy(phone, T0 + 31);
    const merged = mergeDeviceLogs(encodeDeviceLog([...head, r1]), encodeDeviceLog([...head, r2]));
    const lost = merged.changed
      ? merged.dropped[0]!
      : mergeDeviceLogs(encodeDeviceLog([...head, r2]), encodeDeviceLog([...head, r1])).dropped[0]!;
    const won = merged.changed ? merged.state : decodeDeviceLog(encodeDeviceLog([...head, r1])).state;
    expect(deviceOpStillHolds(won, lost)).toBe(false);
    // Two passphrase changes on one head: the winner's key is in force, the loser's no longer holds.
    const k1 = accountKeyFromPassphrase(new TextEncoder().encode('first new'), fromHex(frozen.salt), LIGHT);
    const k2 = accountKeyFromPassphrase(new TextEncoder().encode('second new'), fromHex(frozen.salt), LIGHT);
    const p1 = createDeviceOp(state, {
      type: 'passphrase',
      newAccountKey: k1,
      device: laptop.key,
      accountKey,
      time: T0 + 32,
    });
    const p2 = createDeviceOp(state, {
      type: 'passphrase',
      newAccountKey: k2,
      device: phone.key,
      accountKey,
      time: T0 + 33,
    });
    const afterP1 = applyDeviceOp(state, p1);
    expect(deviceOpStillHolds(afterP1, p2)).toBe(false);
    // Two branches that both change the passphrase do not merge: a thief holding the old
    // passphrase cannot win a fork against the owner's change by its hash.
    const withP1 = encodeDeviceLog([...head, p1]);
    const withP2 = encodeDeviceLog([...head, p2]);
    expect(() => mergeDeviceLogs(withP1, withP2)).toThrow(ProtocolError);
    expect(() => mergeDeviceLogs(withP2, withP1)).toThrow(ProtocolError);
    // A passphrase change beside an add still holds, and needs its own new key to be signed again.
    const desk = device('desk');
    const afterAdd = applyDeviceOp(
      state,
      createDeviceOp(state, {
        type: 'add',
        entry: desk.entry,
        device: laptop.key,
        accountKey,
        time: T0 + 34,
      }),
    );
    expect(deviceOpStillHolds(afterAdd, p2)).toBe(true);
    expect(() =>
      resignDeviceOp(afterAdd, p2, { device: phone.key, accountKey, newAccountKey: k1, time: T0 + 35 }),
    ).toThrow(AuthError);
    const p2again = resignDeviceOp(afterAdd, p2, {
      device: phone.key,
      accountKey,
      newAccountKey: k2,
      time: T0 + 35,
    });
    expect(toHex(applyDeviceOp(afterAdd, p2again).accountKey)).toBe(toHex(k2.publicKey));
  });

  it('a branch that changes the passphrase wins over one that does not, whatever the hashes (0061)', () => {
    const { ops } = buildLog();
    const head = ops.slice(0, 3);
    const state = decodeDeviceLog(encodeDeviceLog(head)).state;
    const k1 = accountKeyFromPassphrase(new TextEncoder().encode('first new'), fromHex(frozen.salt), LIGHT);
    for (let i = 0; i < 6; i++) {
      // Several times, so that the hash order goes both ways at least once.
      const change = createDeviceOp(state, {
        type: 'passphrase',
        newAccountKey: k1,
        params: { salt: rng.bytes(16), cost: LIGHT },
        device: laptop.key,
        accountKey,
        time: T0 + 40 + i,
      });
      const revoke = createDeviceOp(state, {
        type: 'revoke',
        id: deviceId(tablet.key.publicKey),
        device: phone.key,
        accountKey,
        time: T0 + 40 + i,
      });
      const a = encodeDeviceLog([...head, change]);
      const b = encodeDeviceLog([...head, revoke]);
      expect(mergeDeviceLogs(a, b).changed).toBe(false);
      const fromB = mergeDeviceLogs(b, a);
      expect(fromB.changed).toBe(true);
      expect(toHex(fromB.state.accountKey)).toBe(toHex(k1.publicKey));
      expect(fromB.dropped).toHaveLength(1);
      // The revoke still holds and is signed again with the new account key.
      expect(deviceOpStillHolds(fromB.state, fromB.dropped[0]!)).toBe(true);
      expect(() =>
        resignDeviceOp(fromB.state, fromB.dropped[0]!, { device: phone.key, accountKey, time: T0 + 50 }),
      ).toThrow(AuthError);
      const again = resignDeviceOp(fromB.state, fromB.dropped[0]!, {
        device: phone.key,
        accountKey: k1,
        time: T0 + 50,
      });
      expect(currentDevices(applyDeviceOp(fromB.state, again)).map((d) => d.name)).toEqual([
        'laptop',
        'phone 手機',
      ]);
    }
  });

  it('a thief holding the old passphrase and a stolen device cannot undo a passphrase change by forking before it', () => {
    const { ops } = buildLog();
    const head = ops.slice(0, 3); // laptop, phone, tablet (stolen)
    const state = decodeDeviceLog(encodeDeviceLog(head)).state;
    // The owner revokes the tablet, then changes the passphrase.
    const revokeTablet = createDeviceOp(state, {
      type: 'revoke',
      id: deviceId(tablet.key.publicKey),
      device: laptop.key,
      accountKey,
      time: T0 + 60,
    });
    const afterRevoke = applyDeviceOp(state, revokeTablet);
    const k1 = accountKeyFromPassphrase(
      new TextEncoder().encode('owner new one'),
      fromHex(frozen.salt),
      LIGHT,
    );
    const change = createDeviceOp(afterRevoke, {
      type: 'passphrase',
      newAccountKey: k1,
      params: { salt: rng.bytes(16), cost: LIGHT },
      device: laptop.key,
      accountKey,
      time: T0 + 61,
    });
    const owner = encodeDeviceLog([...head, revokeTablet, change]);
    // On the owner's head the old key signs nothing, backdated or not.
    const ownerState = decodeDeviceLog(owner).state;
    for (const time of [T0, T0 + 62])
      expect(() =>
        createDeviceOp(ownerState, {
          type: 'revoke',
          id: deviceId(phone.key.publicKey),
          device: laptop.key,
          accountKey,
          time,
        }),
      ).toThrow(AuthError);
    // Forking before the revoke, with the stolen tablet: a revoke of the owner's devices loses
    // (the owner's branch changes the passphrase), whatever its hash or time.
    for (let i = 0; i < 4; i++) {
      const theft = createDeviceOp(state, {
        type: 'revoke',
        id: deviceId(laptop.key.publicKey),
        device: tablet.key,
        accountKey,
        time: T0 - 1000 + i,
      });
      const thief = encodeDeviceLog([...head, theft]);
      expect(mergeDeviceLogs(owner, thief).changed).toBe(false);
      expect(toHex(encodeDeviceLog(mergeDeviceLogs(thief, owner).ops))).toBe(toHex(owner));
      // Nothing of the thief's is signed again on the owner's devices: it is not theirs.
      expect(
        mergeDeviceLogs(thief, owner).dropped.every((op) => toHex(op.by) === toHex(tablet.key.publicKey)),
      ).toBe(true);
    }
    // A passphrase change of the thief's own is refused: the owner's log stays.
    const thiefChange = createDeviceOp(state, {
      type: 'passphrase',
      newAccountKey: otherAccount,
      params: { salt: rng.bytes(16), cost: LIGHT },
      device: tablet.key,
      accountKey,
      time: T0 + 63,
    });
    expect(() => mergeDeviceLogs(owner, encodeDeviceLog([...head, thiefChange]))).toThrow(ProtocolError);
  });

  it('refuses another account’s log and a forged one', () => {
    const { ops } = buildLog();
    const stranger = device('stranger');
    const foreign = encodeDeviceLog([
      createGenesisOp({ device: stranger.key, entry: stranger.entry, accountKey: otherAccount, time: T0 }),
    ]);
    expect(() => mergeDeviceLogs(encodeDeviceLog(ops), foreign)).toThrow(ProtocolError);
    const last = ops[ops.length - 1]!;
    const sig = last.sig.slice();
    sig[0]! ^= 1;
    const forged = encodeDeviceLog([...ops.slice(0, -1), { ...last, sig }]);
    expect(() => mergeDeviceLogs(encodeDeviceLog(ops), forged)).toThrow(VerificationError);
  });
});
