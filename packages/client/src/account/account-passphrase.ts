/**
 * The account passphrase, this part owns its changes (docs/decisions/0030 "Passphrase change",
 * 0061): the `passphrase` op on the device log, what is sealed to the account key sealed again
 * to the new key in the same step, and the ops of this device that lost a fork signed again on
 * the new head (0030 "Forks between own devices").
 *
 * What is sealed to the account key (X25519 half of the passphrase's Ed25519 key): each
 * contact's next identity (`ContactRecord.nextSealed`, decision 0038), the same in the contacts
 * a restore or a link brought (`devices/restored`), and each group's next member key
 * (`GroupRecord.nx`, decision 0040). Sealing needs only the public key; opening needs the key
 * the item is sealed to. So a device that learns a new key from another device's op (a `log`
 * sync) keeps its items under the old key (`DeviceRegistry.sealedTo`) until it is given the old
 * passphrase, which every command of the CLI reads anyway (the store passphrase); it then opens
 * each item and seals it to the key in force (`settle`). An item that does not open with the
 * old key (sealed to the new one already) is left as it is.
 */
import {
  AuthError,
  NotFoundError,
  VerificationError,
  openNextIdentity,
  sealNextIdentity,
  wipe,
  equalBytes,
  type Argon2idCost,
  type SignKeyPair,
  type SyncOpBody,
} from '@parus/core';
import { decodeSnapshot, encodeSnapshot } from '../account-snapshot.ts';
import { encodeRecord, type ContactRecord } from '../records.ts';
import type { StoreOp } from '../store.ts';
import { C, hex, type AccountContext } from './account-context.ts';
import { DEVICE_COLLECTION, type DeviceRegistry } from './device-registry.ts';

/** What the passphrase part uses of the account. */
export type PassphraseContext = Pick<AccountContext, 'store' | 'lock' | 'rng' | 'contactsById' | 'kickFlush'>;

/** What it asks of the other parts (own devices, contacts, groups). */
export interface PassphraseHooks {
  /** Sync operations to my other devices, for the caller's batch (OwnDevices.syncOps). */
  syncOps(bodies: readonly SyncOpBody[]): Promise<StoreOp[]>;
  /**
   * Groups' next member keys sealed to `from` sealed again to `to` (GroupEngine.resealNextKeys):
   * store operations for the caller's batch, and what to keep in memory once it is written.
   */
  resealGroups(from: SignKeyPair, to: Uint8Array): { ops: StoreOp[]; commit: () => void };
  /** After a revoke of mine was signed again: sessions, contacts and groups told (as `revokeDevice`). */
  afterRevoke(id: string, accountKey: SignKeyPair): Promise<void>;
}

/** What `settle` did, and what still waits. */
export interface SettleResult {
  /** This device's sealed secrets moved to the key in force. */
  resealed: boolean;
  /** Ops of mine signed again on the new head. */
  resigned: number;
  /** Ops of mine still waiting for the account passphrase. */
  waiting: number;
  /** Sealed secrets still under an older account key (the old passphrase was not given). */
  sealedBehind: boolean;
}

export class AccountPassphrase {
  constructor(
    private readonly ctx: PassphraseContext,
    private readonly devices: DeviceRegistry,
    private readonly hooks: PassphraseHooks,
  ) {}

  /**
   * Changes the account passphrase (decision 0061). When `oldPassphrase` derives the account key
   * in force: a `passphrase` op signed by this device, the old key and the new one (fresh salt,
   * `cost`), what is sealed to the old key sealed to the new one, in one write; the log goes to
   * my other devices; ops of mine waiting after a fork are signed with the new key. Returns
   * 'account'. When it does not but `newPassphrase` is the one in force (it was changed on
   * another device), this device only catches up (its sealed secrets move to the key in force,
   * with the old passphrase) and 'device' is returned. Otherwise an AuthError, nothing changed.
   */
  async change(
    oldPassphrase: string,
    newPassphrase: string,
    cost: Argon2idCost,
  ): Promise<'account' | 'device'> {
    let made: Awaited<ReturnType<DeviceRegistry['passphraseOp']>> | undefined;
    try {
      await this.ctx.lock.run(async () => {
        try {
          made = await this.devices.passphraseOp(oldPassphrase, newPassphrase, cost);
        } catch (e) {
          if (e instanceof AuthError) return;
          throw e;
        }
        const reseal = await this.resealOps(made.oldKey, made.newKey.publicKey);
        await this.ctx.store.batch([
          ...made.ops,
          ...reseal.ops,
          this.devices.sealedToOp(made.newKey.publicKey, made.params),
        ]);
        reseal.commit();
        const log = await this.devices.logBytes();
        if (log) await this.ctx.store.batch(await this.hooks.syncOps([{ t: 'log', log }]));
      });
      if (!made) {
        if (!(await this.devices.isAccountPassphrase(newPassphrase)))
          throw new AuthError('neither passphrase is the account passphrase');
        await this.settle([oldPassphrase, newPassphrase]);
        return 'device';
      }
      await this.resign(made.newKey);
      this.ctx.kickFlush();
      return 'account';
    } finally {
      if (made) wipe(made.oldKey.secretKey, made.newKey.secretKey);
    }
  }

  /**
   * With passphrases the user typed (the CLI's store passphrase at each command, the web's at
   * unlock): sealed secrets still under an older account key move to the key in force when one
   * of them derives that older key, and ops of mine that lost a fork are signed again when one
   * derives the key in force. Costs an Argon2id only when something waits.
   */
  async settle(passphrases: readonly string[]): Promise<SettleResult> {
    const state = await this.devices.logState();
    if (!state) return { resealed: false, resigned: 0, waiting: 0, sealedBehind: false };
    let resealed = false;
    const sealedTo = await this.devices.sealedTo();
    if (sealedTo && !equalBytes(sealedTo.key, state.accountKey)) {
      for (const p of new Set(passphrases)) {
        const from = this.devices.deriveIf(p, sealedTo.params, sealedTo.key);
        if (!from) continue;
        try {
          await this.ctx.lock.run(async () => {
            const read = await this.devices.read();
            if (!read) throw new NotFoundError('this account has no device log yet');
            const reseal = await this.resealOps(from, read.state.accountKey);
            await this.ctx.store.batch([
              ...reseal.ops,
              this.devices.sealedToOp(read.state.accountKey, read.params),
            ]);
            reseal.commit();
          });
          resealed = true;
        } finally {
          wipe(from.secretKey);
        }
        break;
      }
    }
    let resigned = 0;
    if ((await this.devices.pendingOps()).length > 0) {
      const read = await this.devices.read();
      for (const p of new Set(passphrases)) {
        const key = read && this.devices.deriveIf(p, read.params, read.state.accountKey);
        if (!key) continue;
        try {
          resigned = await this.resign(key);
        } finally {
          wipe(key.secretKey);
        }
        break;
      }
    }
    const after = await this.devices.sealedTo();
    const now = await this.devices.logState();
    return {
      resealed,
      resigned,
      waiting: (await this.devices.pendingOps()).length,
      sealedBehind: after !== undefined && now !== undefined && !equalBytes(after.key, now.accountKey),
    };
  }

  /** Ops of mine that lost a fork, signed again with `accountKey` (the key in force); the log goes on. */
  private async resign(accountKey: SignKeyPair): Promise<number> {
    let revoked: string[] = [];
    let signed = 0;
    await this.ctx.lock.run(async () => {
      const r = await this.devices.resignPending(accountKey);
      if (r.ops.length === 0) return;
      revoked = r.revoked;
      signed = r.signed;
      await this.ctx.store.batch(r.ops);
      if (signed > 0) {
        const log = await this.devices.logBytes();
        if (log) await this.ctx.store.batch(await this.hooks.syncOps([{ t: 'log', log }]));
      }
    });
    for (const id of revoked) await this.hooks.afterRevoke(id, accountKey);
    if (signed > 0) this.ctx.kickFlush();
    return signed;
  }

  /**
   * Everything sealed to `from` sealed again to `to`, as store operations (the caller holds the
   * lock): contacts' next identities, the restored contacts' and the groups' next member keys.
   * `commit` keeps the new records in memory once the operations are written.
   */
  private async resealOps(
    from: SignKeyPair,
    to: Uint8Array,
  ): Promise<{ ops: StoreOp[]; commit: () => void }> {
    const again = (sealed: Uint8Array): Uint8Array | undefined => {
      let identity: SignKeyPair;
      try {
        identity = openNextIdentity(from, sealed);
      } catch (e) {
        if (e instanceof VerificationError) return undefined; // sealed to the new key already
        throw e;
      }
      const seed = identity.secretKey.slice(0, 32);
      try {
        return sealNextIdentity(this.ctx.rng, to, seed);
      } finally {
        wipe(seed, identity.secretKey);
      }
    };
    const ops: StoreOp[] = [];
    const changed: ContactRecord[] = [];
    for (const c of this.ctx.contactsById.values()) {
      if (!c.nextSealed) continue;
      const sealed = again(c.nextSealed);
      if (!sealed) continue;
      const next = { ...c, nextSealed: sealed };
      ops.push({ type: 'put', collection: C.contacts, key: hex(c.id), value: encodeRecord(next) });
      changed.push(next);
    }
    const raw = await this.ctx.store.get(DEVICE_COLLECTION, 'restored');
    if (raw) {
      const snapshot = decodeSnapshot(raw);
      let any = false;
      const contacts = snapshot.contacts.map((c) => {
        const sealed = c.nextSealed && again(c.nextSealed);
        if (!sealed) return c;
        any = true;
        return { ...c, nextSealed: sealed };
      });
      if (any)
        ops.push({
          type: 'put',
          collection: DEVICE_COLLECTION,
          key: 'restored',
          value: encodeSnapshot({ ...snapshot, contacts }),
        });
    }
    const groups = this.hooks.resealGroups(from, to);
    ops.push(...groups.ops);
    return {
      ops,
      commit: () => {
        for (const c of changed) this.ctx.contactsById.set(hex(c.id), c);
        groups.commit();
      },
    };
  }
}
