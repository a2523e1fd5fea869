/**
 * The relay's long-term keys (DESIGN.md "Server key (Skp)"): an Ed25519 key whose
 * fingerprint is part of the relay's address, and an X25519 key for the services that
 * encrypt to a relay (onion layers, federation links). Made once, on first start, in
 * `<dataDir>/server-key` (CBOR, mode 0600), and loaded on every later start, so the
 * address stays the same across restarts.
 */
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  DH_BYTES,
  SEED_BYTES,
  StorageError,
  asBytes,
  asMap,
  asUint,
  decodeCbor,
  dhKeyPairFromSecret,
  encodeCbor,
  formatRelayAddress,
  relayFingerprint,
  signKeyPairFromSeed,
  wipe,
} from '@parus/core';
import type { DhKeyPair, Random, SignKeyPair } from '@parus/core';

export const SERVER_KEY_FILE = 'server-key';
export const KEY_FILE_VERSION = 1;

export interface ServerKeys {
  sign: SignKeyPair;
  dh: DhKeyPair;
  /** BLAKE2b-256 of the Ed25519 public key, as in the relay address. */
  fingerprint: Uint8Array;
}

export function fromSeeds(signSeed: Uint8Array, dhSecret: Uint8Array): ServerKeys {
  const sign = signKeyPairFromSeed(signSeed);
  const dh = dhKeyPairFromSecret(dhSecret.slice());
  return { sign, dh, fingerprint: relayFingerprint(sign.publicKey) };
}

function readKeyFile(path: string): ServerKeys {
  let file: Uint8Array | undefined;
  let signSeed: Uint8Array | undefined;
  let dhSecret: Uint8Array | undefined;
  try {
    // A plain Uint8Array, not a Buffer: Buffer#slice makes views, and the decoded seeds
    // must be copies that survive wiping the file bytes.
    const raw = readFileSync(path);
    file = new Uint8Array(raw);
    wipe(raw);
    const m = asMap(decodeCbor(file, { maxBytes: 1024 }), 'server key file');
    if (asUint(m.v, 'v') !== KEY_FILE_VERSION)
      throw new StorageError('server key file has an unknown version');
    signSeed = asBytes(m.sign, 'sign', { len: SEED_BYTES });
    dhSecret = asBytes(m.dh, 'dh', { len: DH_BYTES });
    return fromSeeds(signSeed, dhSecret);
  } catch (cause) {
    if (cause instanceof StorageError) throw cause;
    // Never replace an unreadable key: that would silently change the relay's identity.
    throw new StorageError(`cannot read the relay key in ${path}`, { cause });
  } finally {
    wipe(file, signSeed, dhSecret);
  }
}

/** Writes the file whole or not at all: a temporary file, fsync, rename, fsync of the folder. */
function writeKeyFile(dir: string, path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp`;
  rmSync(tmp, { force: true }); // left over by a crash during an earlier first start
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

export interface LoadServerKeysOptions {
  dataDir: string;
  rng: Random;
  log?: (line: string) => void;
}

export function loadOrCreateServerKeys(opts: LoadServerKeysOptions): ServerKeys {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const path = join(opts.dataDir, SERVER_KEY_FILE);
  let exists = true;
  try {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      chmodSync(path, 0o600);
      opts.log?.(`relay key file permissions were ${mode.toString(8)}, set to 600`);
    }
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new StorageError(`cannot stat the relay key in ${path}`, { cause });
    }
    exists = false;
  }
  if (exists) return readKeyFile(path);

  const signSeed = opts.rng.bytes(SEED_BYTES);
  const dhSecret = opts.rng.bytes(DH_BYTES);
  const file = encodeCbor({ v: KEY_FILE_VERSION, sign: signSeed, dh: dhSecret });
  try {
    writeKeyFile(opts.dataDir, path, file);
    opts.log?.('created a new relay key');
    return fromSeeds(signSeed, dhSecret);
  } catch (cause) {
    throw new StorageError(`cannot write the relay key to ${path}`, { cause });
  } finally {
    wipe(signSeed, dhSecret, file);
  }
}

/** `parus://<fingerprint>@host:port`; IPv6 literals get their brackets. */
export function relayAddressFor(keys: ServerKeys, host: string, port: number): string {
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return formatRelayAddress({ fingerprint: keys.fingerprint, host: bracketed, port, transport: 'ws' });
}
