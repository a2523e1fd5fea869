/**
 * The account's devices, this part owns them (docs/decisions/0030): the device log (core
 * device-log.ts) as stored, this device's own X25519 and X-Wing secrets (made here, never
 * exported, never in a snapshot), and the account key's Argon2id parameters (salt and cost:
 * account data, in snapshots and backups, never shown to contacts). The account key itself is
 * derived from the passphrase when an operation needs it, and wiped after.
 *
 *   devices/log     the encoded log (core encodeDeviceLog)
 *   devices/keys    { dh: X25519 secret, kem: X-Wing seed } of this device
 *   devices/akp     { salt, ops, mem } of the genesis account key (a `passphrase` op names
 *                   the salt and cost of the keys after it, decision 0061)
 *   devices/sealed  { key, salt, ops, mem }: the account key what this device sealed to the
 *                   account (next identities, next member keys) is sealed to; absent = the
 *                   genesis key. Behind the log's key after a passphrase change made elsewhere,
 *                   until this device is given the old passphrase (`settle`).
 *   devices/pending [op, …]: ops of this device that lost a fork and still hold, waiting to be
 *                   signed again on the new head with the account key (decision 0061)
 *
 * An account made before device logs existed has none; the first operation that needs it
 * (listing, revoking, a backup) starts it with this device as its genesis.
 */
import {
  ARGON2ID_SALT_BYTES,
  deviceOpHash,
  deviceOpStillHolds,
  resignDeviceOp,
  AuthError,
  NotFoundError,
  ProtocolError,
  applyDeviceOp,
  decodeDeviceOp,
  encodeDeviceOp,
  UsageError,
  accountKeyFromPassphrase,
  asBytes,
  asMap,
  asUint,
  createDeviceEntry,
  createDeviceOp,
  createGenesisOp,
  currentDevices,
  decodeCbor,
  decodeDeviceLog,
  deviceId,
  dhKeyPairFromSecret,
  encodeCbor,
  encodeDeviceLog,
  equalBytes,
  wipe,
  xwingKeyPairFromSeed,
  mergeDeviceLogs,
  toHex,
  type Argon2idCost,
  type DeviceLogState,
  type DeviceOp,
  type DhKeyPair,
  type KemKeyPair,
  type SignKeyPair,
} from '@parus/core';
import type { AccountContext } from './account-context.ts';
import type { StoreOp } from '../store.ts';

export const DEVICE_COLLECTION = 'devices';

/** What the device registry uses of the account. */
export type DeviceContext = Pick<AccountContext, 'store' | 'rng' | 'now' | 'device' | 'lock'>;

/** A device as `parus devices` and the web screen show it. */
export interface DeviceInfo {
  id: string;
  name: string;
  /** This device. */
  current: boolean;
  revoked: boolean;
  /** When it was added (ms, the adding device's clock). */
  added: number;
}

/** The account key's derivation: account data, carried by snapshots and backups. */
export interface AccountKeyParams {
  salt: Uint8Array;
  cost: Argon2idCost;
}

/** The account's devices as a snapshot or backup carries them (never a device's secrets). */
export interface DevicesPart {
  log: Uint8Array;
  params: AccountKeyParams;
}

function encodeParams(p: AccountKeyParams): Uint8Array {
  return encodeCbor({ salt: p.salt, ops: p.cost.opsLimit, mem: p.cost.memLimit });
}

export function decodeAccountKeyParams(value: unknown): AccountKeyParams {
  const m = asMap(value as never, 'account key parameters');
  return {
    salt: asBytes(m.salt, 'account key salt', { len: ARGON2ID_SALT_BYTES }),
    cost: {
      opsLimit: asUint(m.ops, 'account key passes', 16),
      memLimit: asUint(m.mem, 'account key memory', 1024 * 1024 * 1024),
    },
  };
}

export class DeviceRegistry {
  /** Told after this device revoked one (own-devices.ts sends the log on and drops the sessions). */
  onRevoke: ((id: string) => Promise<void>) | undefined;

  constructor(private readonly ctx: DeviceContext) {}

  /** The log, and the salt and cost of the account key in force (the last passphrase op's, else the genesis key's). */
  async read(): Promise<
    | { ops: DeviceOp[]; state: DeviceLogState; params: AccountKeyParams; genesisParams: AccountKeyParams }
    | undefined
  > {
    const log = await this.ctx.store.get(DEVICE_COLLECTION, 'log');
    const akp = await this.ctx.store.get(DEVICE_COLLECTION, 'akp');
    if (!log || !akp) return undefined;
    const { ops, state } = decodeDeviceLog(log);
    const genesisParams = decodeAccountKeyParams(decodeCbor(akp));
    return { ops, state, params: state.accountParams ?? genesisParams, genesisParams };
  }

  /** This device's entry for the log, with its X25519 and X-Wing keys (made once, kept). */
  private async ownEntry(
    name: string,
  ): Promise<{ entry: ReturnType<typeof createDeviceEntry>; write: boolean; keys: Uint8Array }> {
    const stored = await this.ctx.store.get(DEVICE_COLLECTION, 'keys');
    let dh: Uint8Array;
    let kem: Uint8Array;
    if (stored) {
      const m = asMap(decodeCbor(stored), 'device keys');
      dh = asBytes(m.dh, 'device X25519 secret', { len: 32 });
      kem = asBytes(m.kem, 'device X-Wing seed', { len: 32 });
    } else {
      dh = this.ctx.rng.bytes(32);
      kem = this.ctx.rng.bytes(32);
    }
    const entry = createDeviceEntry({
      device: this.ctx.device(),
      dh: dhKeyPairFromSecret(dh).publicKey,
      kem: xwingKeyPairFromSeed(kem).publicKey,
      name,
    });
    return { entry, write: !stored, keys: encodeCbor({ dh, kem }) };
  }

  /** The account key, checked against the log's before anything is signed with it. */
  private accountKey(passphrase: string, params: AccountKeyParams, state: DeviceLogState): SignKeyPair {
    const key = accountKeyFromPassphrase(new TextEncoder().encode(passphrase), params.salt, params.cost);
    if (!equalBytes(key.publicKey, state.accountKey)) {
      wipe(key.secretKey);
      throw new AuthError('wrong account passphrase');
    }
    return key;
  }

  /**
   * Checks that `passphrase` is the account passphrase (it derives the account key in force);
   * an AuthError otherwise. For a backup, whose file only a device of this account can restore.
   */
  async checkPassphrase(passphrase: string): Promise<void> {
    const read = await this.read();
    if (!read) throw new NotFoundError('this account has no device log yet');
    wipe(this.accountKey(passphrase, read.params, read.state).secretKey);
  }

  /** Whether the account has a device log yet. */
  async started(): Promise<boolean> {
    return (await this.read()) !== undefined;
  }

  /**
   * Starts the log with this device as its genesis, if the account has none: the account key
   * comes from `passphrase` with a fresh salt and `cost`. Does nothing when there is a log.
   */
  async ensureLog(opts: { passphrase: string; cost: Argon2idCost; name: string }): Promise<void> {
    await this.ctx.lock.run(async () => {
      if (await this.read()) return;
      const params: AccountKeyParams = {
        salt: this.ctx.rng.bytes(ARGON2ID_SALT_BYTES),
        cost: { opsLimit: opts.cost.opsLimit, memLimit: opts.cost.memLimit },
      };
      const accountKey = accountKeyFromPassphrase(
        new TextEncoder().encode(opts.passphrase),
        params.salt,
        params.cost,
      );
      try {
        const own = await this.ownEntry(opts.name);
        const genesis = createGenesisOp({
          device: this.ctx.device(),
          entry: own.entry,
          accountKey,
          time: this.ctx.now(),
        });
        await this.ctx.store.batch([
          { type: 'put', collection: DEVICE_COLLECTION, key: 'keys', value: own.keys },
          { type: 'put', collection: DEVICE_COLLECTION, key: 'akp', value: encodeParams(params) },
          { type: 'put', collection: DEVICE_COLLECTION, key: 'log', value: encodeDeviceLog([genesis]) },
        ]);
      } finally {
        wipe(accountKey.secretKey);
      }
    });
  }

  /** Every device the log names, this one marked `current`. */
  async list(): Promise<DeviceInfo[]> {
    const read = await this.read();
    if (!read) throw new NotFoundError('this account has no device log yet');
    const me = deviceId(this.ctx.device().publicKey);
    return read.state.devices.map((d) => ({
      id: d.id,
      name: d.name,
      current: d.id === me,
      revoked: d.revoked !== undefined,
      added: d.added.time,
    }));
  }

  /**
   * Revokes a device (a prefix of its id, at least 4 hex digits, is enough when it names one).
   * The passphrase gives the account key; a wrong one is an AuthError and nothing changes.
   */
  async revoke(idOrPrefix: string, passphrase: string): Promise<DeviceInfo[]> {
    const revoked = await this.ctx.lock.run(async () => {
      const read = await this.read();
      if (!read) throw new NotFoundError('this account has no device log yet');
      const wanted = idOrPrefix.trim().toLowerCase();
      if (!/^[0-9a-f]{4,16}$/.test(wanted)) throw new UsageError('a device id is 4 to 16 hex digits');
      const matches = read.state.devices.filter((d) => d.id.startsWith(wanted));
      if (matches.length === 0) throw new NotFoundError(`no device ${wanted}`);
      if (matches.length > 1) throw new UsageError(`${wanted} names more than one device`);
      const accountKey = this.accountKey(passphrase, read.params, read.state);
      try {
        const op = createDeviceOp(read.state, {
          type: 'revoke',
          id: matches[0]!.id,
          device: this.ctx.device(),
          accountKey,
          time: this.ctx.now(),
        });
        await this.ctx.store.batch([
          {
            type: 'put',
            collection: DEVICE_COLLECTION,
            key: 'log',
            value: encodeDeviceLog([...read.ops, op]),
          },
        ]);
      } finally {
        wipe(accountKey.secretKey);
      }
      return matches[0]!.id;
    });
    await this.onRevoke?.(revoked);
    return this.list();
  }

  /**
   * The log and the genesis account key's parameters, for a snapshot (no secret of this device);
   * the keys after a passphrase change carry theirs in the log.
   */
  async part(): Promise<DevicesPart> {
    const read = await this.read();
    if (!read) throw new NotFoundError('this account has no device log yet');
    return { log: encodeDeviceLog(read.ops), params: read.genesisParams };
  }

  /**
   * A restored device joins the log it was given (a backup's): it adds itself, signed by itself
   * and the account key from `passphrase` (a wrong one is an AuthError). The log's own checks
   * refuse a forged or broken log.
   */
  async adopt(part: DevicesPart, opts: { passphrase: string; name: string }): Promise<void> {
    await this.ctx.lock.run(async () => {
      if (await this.read()) throw new UsageError('this device already has a device log');
      const { ops, state } = decodeDeviceLog(part.log);
      const accountKey = this.accountKey(opts.passphrase, state.accountParams ?? part.params, state);
      try {
        const own = await this.ownEntry(opts.name);
        const op = createDeviceOp(state, {
          type: 'add',
          entry: own.entry,
          device: this.ctx.device(),
          accountKey,
          time: this.ctx.now(),
        });
        await this.ctx.store.batch([
          { type: 'put', collection: DEVICE_COLLECTION, key: 'keys', value: own.keys },
          { type: 'put', collection: DEVICE_COLLECTION, key: 'akp', value: encodeParams(part.params) },
          { type: 'put', collection: DEVICE_COLLECTION, key: 'log', value: encodeDeviceLog([...ops, op]) },
          // What the snapshot brought is sealed to the key in force (a device seals to it).
          this.sealedToOp(state.accountKey, state.accountParams ?? part.params),
        ]);
      } finally {
        wipe(accountKey.secretKey);
      }
    });
  }

  /**
   * Device links this device answered (offer id hex → expiry), kept until they expire so that
   * the same link is never answered twice (core device-link.ts: ReplayError).
   */
  async linkAnswered(id: string): Promise<boolean> {
    return (await this.answeredLinks()).has(id);
  }

  /** Notes an answered link before the answer leaves; expired entries are dropped. */
  async markLinkAnswered(id: string, expires: number): Promise<void> {
    await this.ctx.lock.run(async () => {
      const now = this.ctx.now();
      const links = [...(await this.answeredLinks())].filter(([, exp]) => exp >= now).slice(-255);
      links.push([id, expires]);
      await this.ctx.store.batch([
        {
          type: 'put',
          collection: DEVICE_COLLECTION,
          key: 'answered',
          value: encodeCbor(Object.fromEntries(links)),
        },
      ]);
    });
  }

  private async answeredLinks(): Promise<Map<string, number>> {
    const raw = await this.ctx.store.get(DEVICE_COLLECTION, 'answered');
    if (!raw) return new Map();
    const m = asMap(decodeCbor(raw), 'answered links');
    return new Map(Object.entries(m).map(([k, v]) => [k, asUint(v, 'link expiry')]));
  }

  /** The log's last op, encoded: what a newly added device sends back to the device that linked it. */
  async lastOp(): Promise<Uint8Array> {
    const read = await this.read();
    if (!read) throw new NotFoundError('this account has no device log yet');
    return encodeDeviceOp(read.ops[read.ops.length - 1]!);
  }

  /**
   * Takes an `add` op a linked device made of itself (signed by it and the account key) into
   * this device's log; the log's checks refuse anything else (typed errors, nothing stored).
   */
  async acceptAdd(bytes: Uint8Array): Promise<DeviceInfo> {
    const added = await this.ctx.lock.run(async () => {
      const read = await this.read();
      if (!read) throw new NotFoundError('this account has no device log yet');
      const op = decodeDeviceOp(bytes);
      if (op.type !== 'add') throw new ProtocolError('a linked device sends its own add op');
      applyDeviceOp(read.state, op); // refuses what does not extend this log
      await this.ctx.store.batch([
        { type: 'put', collection: DEVICE_COLLECTION, key: 'log', value: encodeDeviceLog([...read.ops, op]) },
      ]);
      return deviceId(op.device.sign);
    });
    const info = (await this.list()).find((d) => d.id === added);
    if (!info) throw new NotFoundError('added device not in the log');
    return info;
  }

  /** The log as it stands (undefined before it is started): what own-device sessions check against. */
  async logState(): Promise<DeviceLogState | undefined> {
    return (await this.read())?.state;
  }

  /** The encoded log, whole (undefined before it is started). */
  async logBytes(): Promise<Uint8Array | undefined> {
    const read = await this.read();
    return read ? encodeDeviceLog(read.ops) : undefined;
  }

  /**
   * Another device's log brought together with mine (core mergeDeviceLogs: the longer of a
   * prefix, the fork rule of decision 0030), stored when it changes mine. The caller holds the
   * lock. Returns the ids of devices the merge revoked, and ops of mine the fork rule dropped.
   * Typed errors (a forged log, another account's) change nothing.
   */
  async mergeLog(theirs: Uint8Array): Promise<{ revoked: string[]; dropped: DeviceOp[]; changed: boolean }> {
    const read = await this.read();
    if (!read) throw new NotFoundError('this account has no device log yet');
    const merged = mergeDeviceLogs(encodeDeviceLog(read.ops), theirs);
    if (!merged.changed) return { revoked: [], dropped: [], changed: false };
    const before = new Set(currentDevices(read.state).map((d) => d.id));
    // Revoked in the merged log: a device whose `add` lost a fork is absent, not revoked; its
    // sessions stay, since it signs its `add` again (decision 0061).
    const revoked = merged.state.devices
      .filter((d) => d.revoked !== undefined && before.has(d.id))
      .map((d) => d.id);
    const mine = this.ctx.device().publicKey;
    const dropped = merged.dropped.filter((op) => equalBytes(op.by, mine));
    const pending = this.stillPending(merged.state, [...(await this.pendingOps()), ...dropped]);
    await this.ctx.store.batch([
      { type: 'put', collection: DEVICE_COLLECTION, key: 'log', value: encodeDeviceLog(merged.ops) },
      this.pendingOp(pending),
    ]);
    return { revoked, dropped, changed: true };
  }

  // ---- Ops that lost a fork, signed again (decision 0061) --------------------------------

  /** Ops of this device that lost a fork and wait for the account key to be signed again. */
  async pendingOps(): Promise<DeviceOp[]> {
    const raw = await this.ctx.store.get(DEVICE_COLLECTION, 'pending');
    if (!raw) return [];
    const items = decodeCbor(raw);
    if (!Array.isArray(items)) throw new ProtocolError('pending device ops must be a list');
    return items.map((b) => decodeDeviceOp(asBytes(b, 'pending device op', { max: 4096 })));
  }

  /** The ops that still mean something on `state`, once each, in their order. */
  private stillPending(state: DeviceLogState, ops: readonly DeviceOp[]): DeviceOp[] {
    const seen = new Set<string>();
    const out: DeviceOp[] = [];
    for (const op of ops) {
      const h = toHex(deviceOpHash(op));
      if (seen.has(h) || !deviceOpStillHolds(state, op)) continue;
      seen.add(h);
      out.push(op);
      if (out.length >= 64) break;
    }
    return out;
  }

  private pendingOp(ops: readonly DeviceOp[]): StoreOp {
    return ops.length === 0
      ? { type: 'del', collection: DEVICE_COLLECTION, key: 'pending' }
      : {
          type: 'put',
          collection: DEVICE_COLLECTION,
          key: 'pending',
          value: encodeCbor(ops.map(encodeDeviceOp)),
        };
  }

  /**
   * Signs the waiting ops again on the head with `accountKey` (the key in force), in their
   * order; those that no longer hold are dropped, a `passphrase` op (which needs its new key
   * too) keeps waiting. Returns the store operations (log, pending) and the ids this revoked.
   * The caller holds the lock and writes the operations.
   */
  async resignPending(
    accountKey: SignKeyPair,
  ): Promise<{ ops: StoreOp[]; revoked: string[]; signed: number }> {
    const read = await this.read();
    const waiting = await this.pendingOps();
    if (!read || waiting.length === 0) return { ops: [], revoked: [], signed: 0 };
    if (!equalBytes(accountKey.publicKey, read.state.accountKey))
      throw new AuthError('wrong account passphrase');
    let state = read.state;
    const log = [...read.ops];
    const left: DeviceOp[] = [];
    const revoked: string[] = [];
    let time = Math.max(this.ctx.now(), ...log.map((o) => o.time));
    for (const op of waiting) {
      if (!deviceOpStillHolds(state, op)) continue;
      if (op.type === 'passphrase') {
        left.push(op);
        continue;
      }
      const again = resignDeviceOp(state, op, { device: this.ctx.device(), accountKey, time: time++ });
      state = applyDeviceOp(state, again);
      log.push(again);
      if (again.type === 'revoke') revoked.push(toHex(again.id));
    }
    return {
      ops: [
        { type: 'put', collection: DEVICE_COLLECTION, key: 'log', value: encodeDeviceLog(log) },
        this.pendingOp(left),
      ],
      revoked,
      signed: log.length - read.ops.length,
    };
  }

  // ---- The account passphrase (decision 0061) ----------------------------------------------

  /** Whether `passphrase` derives the account key in force (one Argon2id). */
  async isAccountPassphrase(passphrase: string): Promise<boolean> {
    const read = await this.read();
    if (!read) return false;
    try {
      wipe(this.accountKey(passphrase, read.params, read.state).secretKey);
      return true;
    } catch (e) {
      if (e instanceof AuthError) return false;
      throw e;
    }
  }

  /** The account key this device's sealed secrets are sealed to (the genesis key until a change). */
  async sealedTo(): Promise<{ key: Uint8Array; params: AccountKeyParams } | undefined> {
    const read = await this.read();
    if (!read) return undefined;
    const raw = await this.ctx.store.get(DEVICE_COLLECTION, 'sealed');
    if (!raw) {
      const genesis = read.ops[0]!;
      return {
        key: genesis.type === 'genesis' ? genesis.account : read.state.accountKey,
        params: read.genesisParams,
      };
    }
    const m = asMap(decodeCbor(raw), 'sealed-to key');
    return {
      key: asBytes(m.key, 'sealed-to key', { len: 32 }),
      params: decodeAccountKeyParams(m),
    };
  }

  sealedToOp(key: Uint8Array, params: AccountKeyParams): StoreOp {
    return {
      type: 'put',
      collection: DEVICE_COLLECTION,
      key: 'sealed',
      value: encodeCbor({ key, salt: params.salt, ops: params.cost.opsLimit, mem: params.cost.memLimit }),
    };
  }

  /**
   * The key pair `passphrase` derives with `params`, if its public half is `expected`
   * (undefined otherwise). The caller wipes it.
   */
  deriveIf(passphrase: string, params: AccountKeyParams, expected: Uint8Array): SignKeyPair | undefined {
    const key = accountKeyFromPassphrase(new TextEncoder().encode(passphrase), params.salt, params.cost);
    if (equalBytes(key.publicKey, expected)) return key;
    wipe(key.secretKey);
    return undefined;
  }

  /**
   * A `passphrase` op on the log (the caller holds the lock): the old passphrase must derive the
   * key in force (AuthError, nothing changed), the new one gets a fresh salt and `cost`. Returns
   * the op's store operations and both key pairs, which the caller wipes.
   */
  async passphraseOp(
    oldPassphrase: string,
    newPassphrase: string,
    cost: Argon2idCost,
  ): Promise<{ ops: StoreOp[]; oldKey: SignKeyPair; newKey: SignKeyPair; params: AccountKeyParams }> {
    const read = await this.read();
    if (!read) throw new NotFoundError('this account has no device log yet');
    if ([...newPassphrase].length < 8)
      throw new UsageError('the new passphrase must have at least 8 characters');
    const oldKey = this.accountKey(oldPassphrase, read.params, read.state);
    const params: AccountKeyParams = {
      salt: this.ctx.rng.bytes(ARGON2ID_SALT_BYTES),
      cost: { opsLimit: cost.opsLimit, memLimit: cost.memLimit },
    };
    let newKey: SignKeyPair | undefined;
    try {
      newKey = accountKeyFromPassphrase(new TextEncoder().encode(newPassphrase), params.salt, params.cost);
      const op = createDeviceOp(read.state, {
        type: 'passphrase',
        newAccountKey: newKey,
        params,
        device: this.ctx.device(),
        accountKey: oldKey,
        time: Math.max(this.ctx.now(), read.ops[read.ops.length - 1]!.time),
      });
      return {
        ops: [
          {
            type: 'put',
            collection: DEVICE_COLLECTION,
            key: 'log',
            value: encodeDeviceLog([...read.ops, op]),
          },
        ],
        oldKey,
        newKey,
        params,
      };
    } catch (e) {
      wipe(oldKey.secretKey);
      if (newKey) wipe(newKey.secretKey);
      throw e;
    }
  }

  private prekeyMemo: { dh: Uint8Array; kem: Uint8Array } | undefined;

  /**
   * This device's X25519 and X-Wing secrets (made once, kept under `keys`, never exported):
   * its keys in the log and the signed prekeys of its entries in device sets (decision 0038).
   * Made here when the account has no log yet.
   */
  async prekeys(): Promise<{ dh: DhKeyPair; kem: KemKeyPair }> {
    if (!this.prekeyMemo) {
      const stored = await this.ctx.store.get(DEVICE_COLLECTION, 'keys');
      if (stored) {
        const m = asMap(decodeCbor(stored), 'device keys');
        this.prekeyMemo = {
          dh: asBytes(m.dh, 'device X25519 secret', { len: 32 }),
          kem: asBytes(m.kem, 'device X-Wing seed', { len: 32 }),
        };
      } else {
        const keys = { dh: this.ctx.rng.bytes(32), kem: this.ctx.rng.bytes(32) };
        await this.ctx.store.batch([
          { type: 'put', collection: DEVICE_COLLECTION, key: 'keys', value: encodeCbor(keys) },
        ]);
        this.prekeyMemo = keys;
      }
    }
    return { dh: dhKeyPairFromSecret(this.prekeyMemo.dh), kem: xwingKeyPairFromSeed(this.prekeyMemo.kem) };
  }

  /**
   * Wipes the stored X25519 and X-Wing secrets once a log exists and they served their time as
   * this device's first signed prekey (decision 0062): nothing else uses them after the log's
   * entry was made. Before a log, nothing is dropped (the log's entry still needs them).
   */
  async forgetLogPrekey(): Promise<void> {
    if (!(await this.read())) return;
    if (this.prekeyMemo) wipe(this.prekeyMemo.dh, this.prekeyMemo.kem);
    this.prekeyMemo = undefined;
    await this.ctx.store.batch([{ type: 'del', collection: DEVICE_COLLECTION, key: 'keys' }]);
  }

  /** The Ed25519 key of the device `id` in the log (revoked ones too). */
  async deviceKey(id: string): Promise<Uint8Array | undefined> {
    const read = await this.read();
    for (const op of read?.ops ?? []) {
      const key = op.type === 'genesis' || op.type === 'add' ? op.device.sign : undefined;
      if (key && deviceId(key) === id) return key;
    }
    return undefined;
  }

  /** The account key's public half, once the account has a log (what next identities are sealed to). */
  async accountPublic(): Promise<Uint8Array | undefined> {
    return (await this.read())?.state.accountKey;
  }

  /**
   * Runs `f` with the account key from `passphrase` (AuthError when it is not the log's), wiped
   * after; for opening sealed next identities on a revocation (decision 0038).
   */
  async withAccountKey<T>(passphrase: string, f: (key: SignKeyPair) => Promise<T>): Promise<T> {
    const read = await this.read();
    if (!read) throw new NotFoundError('this account has no device log yet');
    const key = this.accountKey(passphrase, read.params, read.state);
    try {
      return await f(key);
    } finally {
      wipe(key.secretKey);
    }
  }

  /** The current devices' count, for callers that only need to know whether others exist. */
  async currentCount(): Promise<number> {
    const read = await this.read();
    return read ? currentDevices(read.state).length : 1;
  }
}
