/**
 * Encryption at rest. The passphrase goes through Argon2id (RFC 9106) with a random salt
 * kept beside the data; the derived key seals every value with XChaCha20-Poly1305, the
 * collection and key bound in as associated data so a value cannot be moved to another
 * record. A sealed check value tells a wrong passphrase (AuthError) apart from damage,
 * without revealing anything: nothing is decrypted with a wrong key.
 */
import {
  ARGON2ID_INTERACTIVE,
  ARGON2ID_SALT_BYTES,
  AuthError,
  StorageError,
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
const CHECK = utf8('parus-store-check-v1');

interface KdfMeta {
  v: 1;
  salt: Uint8Array;
  ops: number;
  mem: number;
  check: Uint8Array;
}

function recordAd(collection: string, key: string): Uint8Array {
  return utf8(`parus-record-v1\0${collection}\0${key}`);
}

export class SealedStore implements Store {
  private constructor(
    private readonly inner: Store,
    private readonly key: Uint8Array,
    private readonly rng: Random,
  ) {}

  /** True when the backend already holds an account (so `open` needs the right passphrase). */
  static async exists(inner: Store): Promise<boolean> {
    return (await inner.get(META, META_KEY)) !== undefined;
  }

  /**
   * Opens (or, when `create` is set and the backend is empty, initialises) the sealed store.
   * A wrong passphrase throws AuthError and changes nothing.
   */
  static async open(
    inner: Store,
    passphrase: string,
    opts: { rng: Random; create?: boolean; cost?: Argon2idCost },
  ): Promise<SealedStore> {
    const raw = await inner.get(META, META_KEY);
    const password = utf8(passphrase);
    try {
      if (!raw) {
        if (!opts.create) throw new AuthError('no account here: create one first');
        const cost = opts.cost ?? ARGON2ID_INTERACTIVE;
        const salt = opts.rng.bytes(ARGON2ID_SALT_BYTES);
        const key = argon2id(password, salt, cost);
        const meta: KdfMeta = {
          v: 1,
          salt,
          ops: cost.opsLimit,
          mem: cost.memLimit,
          check: sealWithNonce(opts.rng, key, CHECK, utf8('check')),
        };
        await inner.batch([{ type: 'put', collection: META, key: META_KEY, value: encodeCbor({ ...meta }) }]);
        return new SealedStore(inner, key, opts.rng);
      }
      let meta: KdfMeta;
      try {
        const m = asMap(decodeCbor(raw), 'store metadata');
        meta = {
          v: 1,
          salt: asBytes(m.salt, 'salt', { len: ARGON2ID_SALT_BYTES }),
          ops: asUint(m.ops, 'ops', 10),
          mem: asUint(m.mem, 'mem', 1024 * 1024 * 1024),
          check: asBytes(m.check, 'check', { max: 256 }),
        };
      } catch (cause) {
        throw new StorageError('store metadata is damaged', { cause });
      }
      const key = argon2id(password, meta.salt, { opsLimit: meta.ops, memLimit: meta.mem });
      try {
        openWithNonce(key, meta.check, utf8('check'));
      } catch (cause) {
        wipe(key);
        if (cause instanceof VerificationError) throw new AuthError('wrong passphrase');
        throw cause;
      }
      return new SealedStore(inner, key, opts.rng);
    } finally {
      wipe(password);
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
