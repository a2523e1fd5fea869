/**
 * Encryption at rest. A random data key seals every value with XChaCha20-Poly1305, the
 * collection and key bound in as associated data so a value cannot be moved to another
 * record. The data key is kept wrapped (sealed) under a key the passphrase gives through
 * Argon2id (RFC 9106), with the salt and the profile (passes, memory) beside it: a wrong
 * passphrase fails to unwrap it (AuthError) without anything being decrypted.
 *
 * Raising the profile (docs/decisions/0027) re-wraps the same data key under a new salt and
 * profile: one record written in one atomic batch, so an interruption leaves either the old
 * wrapping or the new one, and the account opens either way. Stores of the first version
 * (v1: the Argon2id output itself was the data key, with a sealed check value) open as they
 * are and are moved to a wrapped key the same way, keeping that output as the data key.
 */
import {
  ARGON2ID_MODERATE,
  ARGON2ID_SALT_BYTES,
  AuthError,
  StorageError,
  UsageError,
  VerificationError,
  argon2id,
  asBytes,
  asMap,
  asUint,
  decodeCbor,
  encodeCbor,
  openWithNonce,
  sealWithNonce,
  utf8,
  wipe,
  type Argon2idCost,
  type Random,
} from '@parus/core';
import type { Store, StoreEntry, StoreOp } from './store.ts';

const META = '_meta';
const META_KEY = 'kdf';
const DATA_KEY_BYTES = 32;
const WRAP_AD = utf8('parus-store-key-v2');

/** What is stored beside the data: how the passphrase opens it. */
type KdfMeta =
  | { v: 1; salt: Uint8Array; ops: number; mem: number; check: Uint8Array }
  | { v: 2; salt: Uint8Array; ops: number; mem: number; wrapped: Uint8Array };

function recordAd(collection: string, key: string): Uint8Array {
  return utf8(`parus-record-v1\0${collection}\0${key}`);
}

function decodeMeta(raw: Uint8Array): KdfMeta {
  try {
    const m = asMap(decodeCbor(raw), 'store metadata');
    const common = {
      salt: asBytes(m.salt, 'salt', { len: ARGON2ID_SALT_BYTES }),
      ops: asUint(m.ops, 'ops', 10),
      mem: asUint(m.mem, 'mem', 1024 * 1024 * 1024),
    };
    // The first version wrote no `v` field it checked; it is told apart by its check value.
    if (m.v === 2) return { v: 2, ...common, wrapped: asBytes(m.wrapped, 'wrapped', { max: 256 }) };
    return { v: 1, ...common, check: asBytes(m.check, 'check', { max: 256 }) };
  } catch (cause) {
    throw new StorageError('store metadata is damaged', { cause });
  }
}

/** The data key wrapped under `password` with a fresh salt and `cost`: the v2 metadata record. */
function wrapOp(password: Uint8Array, dataKey: Uint8Array, cost: Argon2idCost, rng: Random): StoreOp {
  const salt = rng.bytes(ARGON2ID_SALT_BYTES);
  const kek = argon2id(password, salt, cost);
  try {
    const wrapped = sealWithNonce(rng, kek, dataKey, WRAP_AD);
    const meta = { v: 2, salt, ops: cost.opsLimit, mem: cost.memLimit, wrapped };
    return { type: 'put', collection: META, key: META_KEY, value: encodeCbor(meta) };
  } finally {
    wipe(kek);
  }
}

function weaker(stored: Argon2idCost, wanted: Argon2idCost): boolean {
  return stored.opsLimit < wanted.opsLimit || stored.memLimit < wanted.memLimit;
}

export class SealedStore implements Store {
  private constructor(
    private readonly inner: Store,
    private readonly key: Uint8Array,
    private readonly rng: Random,
    /** The Argon2id profile that guards the data key now. */
    readonly profile: Argon2idCost,
  ) {}

  /** True when the backend already holds an account (so `open` needs the right passphrase). */
  static async exists(inner: Store): Promise<boolean> {
    return (await inner.get(META, META_KEY)) !== undefined;
  }

  /**
   * Opens (or, when `create` is set and the backend is empty, initialises) the sealed store.
   * `cost` is the profile this client wants (ARGON2ID_MODERATE unless given): a new store gets
   * it, and a store kept under a weaker one is re-wrapped to it once the passphrase is right
   * (the stronger of the two in each dimension; never lowered). A wrong passphrase throws
   * AuthError and changes nothing.
   */
  static async open(
    inner: Store,
    passphrase: string,
    opts: { rng: Random; create?: boolean; cost?: Argon2idCost },
  ): Promise<SealedStore> {
    const raw = await inner.get(META, META_KEY);
    const password = utf8(passphrase);
    const wanted = opts.cost ?? ARGON2ID_MODERATE;
    try {
      if (!raw) {
        if (!opts.create) throw new AuthError('no account here: create one first');
        const dataKey = opts.rng.bytes(DATA_KEY_BYTES);
        await inner.batch([wrapOp(password, dataKey, wanted, opts.rng)]);
        return new SealedStore(inner, dataKey, opts.rng, { ...wanted });
      }
      const meta = decodeMeta(raw);
      const stored: Argon2idCost = { opsLimit: meta.ops, memLimit: meta.mem };
      const derived = argon2id(password, meta.salt, stored);
      let dataKey: Uint8Array;
      try {
        if (meta.v === 1) {
          openWithNonce(derived, meta.check, utf8('check'));
          dataKey = derived;
        } else {
          dataKey = openWithNonce(derived, meta.wrapped, WRAP_AD);
          wipe(derived);
        }
      } catch (cause) {
        wipe(derived);
        if (cause instanceof VerificationError) throw new AuthError('wrong passphrase');
        throw cause;
      }
      if (dataKey.length !== DATA_KEY_BYTES) throw new StorageError('store metadata is damaged');
      if (meta.v === 2 && !weaker(stored, wanted)) return new SealedStore(inner, dataKey, opts.rng, stored);
      // Upgrade: the same data key, wrapped anew, in one atomic write. If it fails, the old
      // record still opens the account, and the next open tries again.
      const raised: Argon2idCost = {
        opsLimit: Math.max(stored.opsLimit, wanted.opsLimit),
        memLimit: Math.max(stored.memLimit, wanted.memLimit),
      };
      try {
        await inner.batch([wrapOp(password, dataKey, raised, opts.rng)]);
      } catch {
        return new SealedStore(inner, dataKey, opts.rng, stored);
      }
      return new SealedStore(inner, dataKey, opts.rng, raised);
    } finally {
      wipe(password);
    }
  }

  /**
   * Changes the passphrase that opens this store (decision 0030: each device's store passphrase
   * is its own): the old one must open it (AuthError otherwise, nothing changed), then the same
   * data key is wrapped under the new one in one atomic write, so no record is rewritten and a
   * crash leaves either the old or the new passphrase working. UsageError for a new passphrase
   * shorter than 8 characters.
   */
  static async changePassphrase(
    inner: Store,
    oldPassphrase: string,
    newPassphrase: string,
    opts: { rng: Random; cost?: Argon2idCost },
  ): Promise<void> {
    if ([...newPassphrase].length < 8)
      throw new UsageError('the new passphrase must have at least 8 characters');
    const store = await SealedStore.open(inner, oldPassphrase, {
      rng: opts.rng,
      ...(opts.cost ? { cost: opts.cost } : {}),
    });
    const password = utf8(newPassphrase);
    try {
      await inner.batch([wrapOp(password, store.key, store.profile, opts.rng)]);
    } finally {
      wipe(password, store.key);
    }
  }

  private unseal(collection: string, key: string, sealed: Uint8Array): Uint8Array {
    try {
      return openWithNonce(this.key, sealed, recordAd(collection, key));
    } catch (cause) {
      throw new StorageError(`record ${collection}/${key} is damaged`, { cause });
    }
  }

  async get(collection: string, key: string): Promise<Uint8Array | undefined> {
    const sealed = await this.inner.get(collection, key);
    return sealed === undefined ? undefined : this.unseal(collection, key, sealed);
  }

  async list(collection: string): Promise<StoreEntry[]> {
    const entries = await this.inner.list(collection);
    return entries.map((e) => ({ key: e.key, value: this.unseal(collection, e.key, e.value) }));
  }

  async batch(ops: readonly StoreOp[]): Promise<void> {
    await this.inner.batch(
      ops.map((op) =>
        op.type === 'put'
          ? { ...op, value: sealWithNonce(this.rng, this.key, op.value, recordAd(op.collection, op.key)) }
          : op,
      ),
    );
  }

  async close(): Promise<void> {
    wipe(this.key);
    await this.inner.close();
  }
}
