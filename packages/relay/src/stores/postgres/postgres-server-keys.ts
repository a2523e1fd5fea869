/**
 * The relay key of processes that share a PostgreSQL store (docs/decisions/0047-postgresql-
 * store.md): one key for all of them, so one `parus://` address stands for every process
 * behind a load balancer. It is the same CBOR as the `server-key` file (server-keys.ts),
 * sealed with XChaCha20-Poly1305 (core sealWithNonce) under a 32-byte operator secret read
 * from a file (`--key-secret FILE`), and kept in `parus_meta` as `relay_key`.
 *
 * The first process creates it: it inserts its own new key if there is none (ON CONFLICT DO
 * NOTHING) and then reads the one that is there, so two processes starting at once end with
 * the same key. A secret that does not open the stored key is refused (UsageError) and
 * changes nothing.
 */
import { readFileSync, statSync } from 'node:fs';
import {
  DH_BYTES,
  SEED_BYTES,
  StorageError,
  UsageError,
  VerificationError,
  asBytes,
  asMap,
  asUint,
  decodeCbor,
  encodeCbor,
  openWithNonce,
  sealWithNonce,
  utf8,
  wipe,
} from '@parus/core';
import type { Random } from '@parus/core';
import { KEY_FILE_VERSION, fromSeeds } from '../../server-keys.ts';
import type { ServerKeys } from '../../server-keys.ts';
import type { PgDatabase } from './pg-database.ts';

export const KEY_SECRET_BYTES = 32;
/** Binds the sealed key to its purpose. */
const AD = utf8('parus relay key in store v1');

/**
 * Reads the operator's secret: a file of exactly 32 bytes, or of 64 hex digits (a trailing
 * newline allowed), e.g. `head -c 32 /dev/urandom > FILE` or `openssl rand -hex 32 > FILE`.
 * UsageError when the file is missing, readable by others, or not one of these.
 */
export function readKeySecret(path: string): Uint8Array {
  let raw: Buffer;
  try {
    if ((statSync(path).mode & 0o077) !== 0) {
      throw new UsageError('the key secret file must be readable by its owner only (chmod 600)');
    }
    raw = readFileSync(path);
  } catch (cause) {
    if (cause instanceof UsageError) throw cause;
    throw new UsageError('cannot read the key secret file', { cause });
  }
  try {
    if (raw.length === KEY_SECRET_BYTES) return new Uint8Array(raw);
    const text = raw.toString('latin1').replace(/\r?\n$/, '');
    if (/^[0-9a-fA-F]{64}$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
    throw new UsageError('the key secret file must hold 32 bytes, or 64 hex digits');
  } finally {
    wipe(raw);
  }
}

/** The store's relay key, created by the first process that comes (race-safe). */
export async function loadOrCreateStoreServerKeys(opts: {
  db: PgDatabase;
  secret: Uint8Array;
  rng: Random;
  log?: (line: string) => void;
}): Promise<ServerKeys> {
  if (opts.secret.length !== KEY_SECRET_BYTES) throw new UsageError('the key secret must be 32 bytes');
  const signSeed = opts.rng.bytes(SEED_BYTES);
  const dhSecret = opts.rng.bytes(DH_BYTES);
  const plain = encodeCbor({ v: KEY_FILE_VERSION, sign: signSeed, dh: dhSecret });
  let sealed: Buffer;
  let created: boolean;
  try {
    const box = sealWithNonce(opts.rng, opts.secret, plain, AD);
    const r = await opts.db.pool.query(
      "INSERT INTO parus_meta (name, value) VALUES ('relay_key', $1) ON CONFLICT (name) DO NOTHING",
      [box],
    );
    created = r.rowCount === 1;
    const row = await opts.db.pool.query<{ value: Buffer }>(
      "SELECT value FROM parus_meta WHERE name = 'relay_key'",
    );
    if (!row.rows[0]) throw new StorageError('the relay key vanished from the store');
    sealed = row.rows[0].value;
  } catch (cause) {
    if (cause instanceof StorageError) throw cause;
    throw new StorageError('cannot read or write the relay key in the store', { cause });
  } finally {
    wipe(signSeed, dhSecret, plain);
  }
  let file: Uint8Array | undefined;
  let sign: Uint8Array | undefined;
  let dh: Uint8Array | undefined;
  try {
    try {
      file = openWithNonce(opts.secret, new Uint8Array(sealed), AD);
    } catch (cause) {
      if (cause instanceof VerificationError) {
        throw new UsageError('the key secret does not open the relay key in this store', { cause });
      }
      throw cause;
    }
    const m = asMap(decodeCbor(file, { maxBytes: 1024 }), 'relay key');
    if (asUint(m.v, 'v') !== KEY_FILE_VERSION)
      throw new StorageError('the relay key in the store has an unknown version');
    sign = asBytes(m.sign, 'sign', { len: SEED_BYTES });
    dh = asBytes(m.dh, 'dh', { len: DH_BYTES });
    if (created) opts.log?.('created a new relay key in the store');
    return fromSeeds(sign, dh);
  } finally {
    wipe(file, sign, dh);
  }
}
