/**
 * An account backup: one file, encrypted under a passphrase (docs/decisions/0030 "Backups").
 *
 *   "PARUSBAK"                 8 bytes, the magic
 *   u32be n, header            n ≤ 256 bytes of CBOR { v: 1, salt: bytes 16, ops: uint, mem: uint,
 *                              h: bytes 24 (secretstream header), chunk: uint (plaintext per chunk) }
 *   then chunks: u32be m, m bytes of libsodium secretstream, the last one tagged FINAL
 *
 * key = HKDF-SHA-256(Argon2id(passphrase, salt, ops, mem), salt, "parus-backup-v1" || header)
 *
 * Binding the header into the key makes any change to it (a lower cost, another salt, another
 * chunk size) a wrong key; secretstream makes a changed, dropped, reordered or cut chunk fail.
 * A wrong passphrase and tampered bytes are both a VerificationError (they cannot be told
 * apart, and nothing is returned); a malformed file, or a cost or size outside the bounds
 * below (a file must not make the reader allocate gigabytes or spin for minutes), a DecodeError.
 * What the payload holds (the account snapshot) is the client's.
 */
import { concatBytes, u32be, utf8 } from './bytes.ts';
import { asBytes, asMap, asUint, decodeCbor, encodeCbor } from './cbor.ts';
import {
  ARGON2ID_SALT_BYTES,
  SECRETSTREAM_ABYTES,
  SECRETSTREAM_HEADER_BYTES,
  argon2id,
  hkdf,
  openSecretStream,
  secretStreamPull,
  secretStreamPush,
  wipe,
  type Argon2idCost,
  type Random,
  argon2idCostWithin,
} from './crypto.ts';
import { DecodeError, UsageError, VerificationError } from './errors.ts';

export const BACKUP_MAGIC = utf8('PARUSBAK');
export const BACKUP_VERSION = 1;
export const MAX_BACKUP_HEADER_BYTES = 256;
export const BACKUP_CHUNK_BYTES = 1024 * 1024;
export const MIN_BACKUP_CHUNK_BYTES = 16;
/** The most a backup holds (an account with its history). */
export const MAX_BACKUP_BYTES = 512 * 1024 * 1024;
/** Argon2id bounds a file may ask for: libsodium's least, and 16 passes over 1 GiB at most. */
export const MAX_BACKUP_COST: Argon2idCost = { opsLimit: 16, memLimit: 1024 * 1024 * 1024 };
export const MIN_BACKUP_COST: Argon2idCost = { opsLimit: 1, memLimit: 8192 };

const KEY_CONTEXT = utf8('parus-backup-v1');

export interface BackupHeader {
  salt: Uint8Array;
  cost: Argon2idCost;
  streamHeader: Uint8Array;
  chunkBytes: number;
}

function checkCost(cost: Argon2idCost, Err: typeof UsageError | typeof DecodeError): void {
  if (!argon2idCostWithin(cost, MIN_BACKUP_COST, MAX_BACKUP_COST))
    throw new Err('backup Argon2id cost out of bounds');
}

function backupKey(passphrase: string, header: BackupHeader, headerBytes: Uint8Array): Uint8Array {
  if (typeof passphrase !== 'string' || passphrase.length === 0)
    throw new UsageError('passphrase must not be empty');
  const password = utf8(passphrase);
  const stretched = argon2id(password, header.salt, header.cost);
  try {
    return hkdf(stretched, header.salt, concatBytes(KEY_CONTEXT, headerBytes), 32);
  } finally {
    wipe(stretched, password);
  }
}

/** Encrypts `payload` into one backup file. */
export function sealAccountBackup(opts: {
  passphrase: string;
  payload: Uint8Array;
  rng: Random;
  cost: Argon2idCost;
  chunkBytes?: number;
}): Uint8Array {
  const chunkBytes = opts.chunkBytes ?? BACKUP_CHUNK_BYTES;
  if (!Number.isInteger(chunkBytes) || chunkBytes < MIN_BACKUP_CHUNK_BYTES || chunkBytes > BACKUP_CHUNK_BYTES)
    throw new UsageError('backup chunk size out of range');
  if (!(opts.payload instanceof Uint8Array) || opts.payload.length > MAX_BACKUP_BYTES)
    throw new UsageError('backup payload too large');
  checkCost(opts.cost, UsageError);
  const header: BackupHeader = {
    salt: opts.rng.bytes(ARGON2ID_SALT_BYTES),
    cost: { opsLimit: opts.cost.opsLimit, memLimit: opts.cost.memLimit },
    streamHeader: opts.rng.bytes(SECRETSTREAM_HEADER_BYTES),
    chunkBytes,
  };
  const headerBytes = encodeCbor({
    v: BACKUP_VERSION,
    salt: header.salt,
    ops: header.cost.opsLimit,
    mem: header.cost.memLimit,
    h: header.streamHeader,
    chunk: chunkBytes,
  });
  const key = backupKey(opts.passphrase, header, headerBytes);
  const stream = openSecretStream(key, header.streamHeader);
  wipe(key);
  const parts: Uint8Array[] = [BACKUP_MAGIC, u32be(headerBytes.length), headerBytes];
  const count = Math.max(1, Math.ceil(opts.payload.length / chunkBytes));
  for (let i = 0; i < count; i++) {
    const piece = opts.payload.subarray(i * chunkBytes, Math.min(opts.payload.length, (i + 1) * chunkBytes));
    const c = secretStreamPush(stream, piece, i === count - 1);
    parts.push(u32be(c.length), c);
  }
  return concatBytes(...parts);
}

function readU32(bytes: Uint8Array, at: number, what: string): number {
  if (at + 4 > bytes.length) throw new DecodeError(`backup truncated in ${what}`);
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function parseHeader(bytes: Uint8Array): { header: BackupHeader; headerBytes: Uint8Array; bodyAt: number } {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('backup must be bytes');
  if (bytes.length < BACKUP_MAGIC.length + 4) throw new DecodeError('backup too short');
  for (let i = 0; i < BACKUP_MAGIC.length; i++)
    if (bytes[i] !== BACKUP_MAGIC[i]) throw new DecodeError('not a Parus backup');
  const n = readU32(bytes, BACKUP_MAGIC.length, 'header length');
  if (n > MAX_BACKUP_HEADER_BYTES) throw new DecodeError('backup header too large');
  const start = BACKUP_MAGIC.length + 4;
  if (start + n > bytes.length) throw new DecodeError('backup truncated in its header');
  const headerBytes = bytes.subarray(start, start + n);
  const m = asMap(
    decodeCbor(headerBytes, {
      maxBytes: MAX_BACKUP_HEADER_BYTES,
      maxDepth: 1,
      maxItems: 8,
      maxTotalItems: 9,
    }),
    'backup header',
  );
  if (Object.keys(m).sort().join(',') !== 'chunk,h,mem,ops,salt,v')
    throw new DecodeError('backup header fields');
  if (asUint(m.v, 'backup version') !== BACKUP_VERSION) throw new DecodeError('unknown backup version');
  const header: BackupHeader = {
    salt: asBytes(m.salt, 'backup salt', { len: ARGON2ID_SALT_BYTES }),
    cost: {
      opsLimit: asUint(m.ops, 'backup Argon2id passes'),
      memLimit: asUint(m.mem, 'backup Argon2id memory'),
    },
    streamHeader: asBytes(m.h, 'backup stream header', { len: SECRETSTREAM_HEADER_BYTES }),
    chunkBytes: asUint(m.chunk, 'backup chunk size', BACKUP_CHUNK_BYTES),
  };
  if (header.chunkBytes < MIN_BACKUP_CHUNK_BYTES) throw new DecodeError('backup chunk size too small');
  checkCost(header.cost, DecodeError);
  return { header, headerBytes, bodyAt: start + n };
}

/** The header alone (DecodeError if malformed): what the file asks of Argon2id, before deriving. */
export function readBackupHeader(bytes: Uint8Array): BackupHeader {
  return parseHeader(bytes).header;
}

/**
 * Decrypts a backup. The framing is checked before the slow key derivation (DecodeError), and
 * so is `maxCost` when given; a wrong passphrase or tampered bytes give VerificationError and nothing else.
 */
export function openAccountBackup(
  bytes: Uint8Array,
  passphrase: string,
  opts: { maxBytes?: number; maxCost?: Argon2idCost } = {},
): Uint8Array {
  const maxBytes = Math.min(opts.maxBytes ?? MAX_BACKUP_BYTES, MAX_BACKUP_BYTES);
  const { header, headerBytes, bodyAt } = parseHeader(bytes);
  // A reader may pay less than the bounds (a phone's browser cannot take 1 GiB).
  if (
    opts.maxCost &&
    (header.cost.opsLimit > opts.maxCost.opsLimit || header.cost.memLimit > opts.maxCost.memLimit)
  )
    throw new DecodeError('backup asks for more Argon2id work than this reader allows');
  // Frame the chunks first: sizes within the chunk size, the file ending on a chunk boundary.
  const chunks: Uint8Array[] = [];
  let at = bodyAt;
  let total = 0;
  while (at < bytes.length) {
    const m = readU32(bytes, at, 'a chunk length');
    if (m < SECRETSTREAM_ABYTES || m > header.chunkBytes + SECRETSTREAM_ABYTES)
      throw new DecodeError('backup chunk size out of range');
    if (at + 4 + m > bytes.length) throw new DecodeError('backup truncated in a chunk');
    chunks.push(bytes.subarray(at + 4, at + 4 + m));
    total += m - SECRETSTREAM_ABYTES;
    if (total > maxBytes) throw new DecodeError('backup larger than allowed');
    at += 4 + m;
  }
  if (chunks.length === 0) throw new DecodeError('backup has no contents');
  const key = backupKey(passphrase, header, headerBytes);
  const stream = openSecretStream(key, header.streamHeader);
  wipe(key);
  const out: Uint8Array[] = [];
  for (const [i, c] of chunks.entries()) {
    const { message, final } = secretStreamPull(stream, c);
    if (final !== (i === chunks.length - 1)) throw new VerificationError('backup cut short or extended');
    out.push(message);
  }
  return concatBytes(...out);
}
