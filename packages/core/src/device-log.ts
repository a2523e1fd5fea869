/**
 * The account's device log (docs/decisions/0030): a hash-linked, append-only list of signed
 * operations on the account's devices, which every own device re-checks offline (Keybase's
 * sigchain is the model; nothing here needs a server).
 *
 *   op = CBOR map {
 *     v: 1,
 *     seq: uint                 0 for the genesis, then +1
 *     prev: bytes 32            BLAKE2b-256 of the previous encoded op (32 zero bytes at seq 0)
 *     type: "genesis" | "add" | "revoke" | "passphrase"
 *     body: map                 by type, below
 *     time: uint                ms since the epoch, as the author's clock said (not trusted)
 *     by: bytes 32              Ed25519 key of the signing device
 *     sig: bytes 64             by `by`           over "parus-device-op-v1" || CBOR(op without sig, asig, nsig)
 *     asig: bytes 64            by the account key in force, over the same bytes
 *     nsig: bytes 64            passphrase only: by the new account key, over the same bytes
 *   }
 *   body genesis    { device: entry, account: bytes 32 (the account key, Ed25519) }
 *   body add        { device: entry }
 *   body revoke     { id: bytes 8 }
 *   body passphrase { account: bytes 32, salt: bytes 16, ops: uint, mem: uint }
 *                   the new account key and its Argon2id salt and cost (decision 0061); the
 *                   older form { account } (no op was made in it outside the frozen vector)
 *                   keeps the salt and cost in force
 *   entry = { sign: bytes 32, dh: bytes 32, kem: bytes 1216, name: text, pop: bytes 64 }
 *     pop: by `sign` over "parus-device-pop-v1" || CBOR(entry without pop): the device holds its key.
 *
 * The account key is Ed25519 from Argon2id of the passphrase (`accountKeyFromPassphrase`):
 * every op carries its signature, so a device alone (a stolen one) can neither revoke
 * another, nor add one, nor change the passphrase. Every op is signed by a current device,
 * except an `add` signed by the added device itself (a restore from a backup, when no old
 * device may be left: the passphrase is the root).
 *
 * Refusals, and the state is left as it was: malformed or oversized → DecodeError; a bad
 * signature → VerificationError; no current device or no account-key signature → AuthError;
 * an op already in the log → ReplayError; a fork, a gap, or an op that does not fit the state
 * (re-adding a device, revoking an unknown one or the last one) → ProtocolError.
 */
import { concatBytes, toHex, utf8 } from './bytes.ts';
import { asBytes, asMap, asText, asUint, decodeCbor, encodeCbor, type CborMap } from './cbor.ts';
import {
  ARGON2ID_SALT_BYTES,
  SIGNATURE_BYTES,
  SIGN_PUBLIC_BYTES,
  SIGN_SECRET_BYTES,
  XWING_PUBLIC_BYTES,
  argon2id,
  equalSecret,
  hash,
  sign,
  signKeyPairFromSeed,
  verify,
  wipe,
  type Argon2idCost,
  type SignKeyPair,
  argon2idCostWithin,
} from './crypto.ts';
import { nameFault } from './display-text.ts';
import {
  AuthError,
  DecodeError,
  ProtocolError,
  ReplayError,
  UsageError,
  VerificationError,
} from './errors.ts';

export const DEVICE_LOG_VERSION = 1;
/** An `add` op is ~1.7 KB (the X-Wing key is 1216 bytes). */
export const MAX_DEVICE_OP_BYTES = 4096;
export const MAX_DEVICE_LOG_OPS = 1024;
/** Devices ever added to one account (revoked ones count). */
export const MAX_ACCOUNT_DEVICES = 64;
export const MAX_DEVICE_NAME_CHARS = 64;
export const DEVICE_ID_BYTES = 8;
export const OP_HASH_BYTES = 32;

const OP_CONTEXT = utf8('parus-device-op-v1');
const POP_CONTEXT = utf8('parus-device-pop-v1');
const ID_CONTEXT = utf8('parus-device-id-v1');
const ACCOUNT_KEY_CONTEXT = utf8('parus-account-key-v1');
const ZERO_HASH = new Uint8Array(OP_HASH_BYTES);

export type DeviceOpType = 'genesis' | 'add' | 'revoke' | 'passphrase';
const OP_TYPES: readonly DeviceOpType[] = ['genesis', 'add', 'revoke', 'passphrase'];

/** A device as the log describes it: its public keys and name, with its proof of possession. */
export interface DeviceEntry {
  sign: Uint8Array;
  dh: Uint8Array;
  kem: Uint8Array;
  name: string;
  pop: Uint8Array;
}

export type DeviceOpBody =
  | { type: 'genesis'; device: DeviceEntry; account: Uint8Array }
  | { type: 'add'; device: DeviceEntry }
  | { type: 'revoke'; id: Uint8Array }
  | { type: 'passphrase'; account: Uint8Array; params?: AccountKeyParams };

/** How the account key is derived from the passphrase: account data, never shown to contacts. */
export interface AccountKeyParams {
  salt: Uint8Array;
  cost: Argon2idCost;
}

/** Bounds on a cost a log may name (a peer's op must not make a device allocate gigabytes). */
export const MIN_ACCOUNT_KEY_COST: Argon2idCost = { opsLimit: 1, memLimit: 8192 };
export const MAX_ACCOUNT_KEY_COST: Argon2idCost = { opsLimit: 16, memLimit: 1024 * 1024 * 1024 };

interface DeviceOpHeader {
  v: 1;
  seq: number;
  prev: Uint8Array;
  time: number;
  by: Uint8Array;
}
type UnsignedOp = DeviceOpBody & DeviceOpHeader;

export type DeviceOp = UnsignedOp & {
  sig: Uint8Array;
  asig: Uint8Array;
  nsig?: Uint8Array;
};

export interface LoggedDevice {
  /** 16 hex digits (deviceId). */
  id: string;
  sign: Uint8Array;
  dh: Uint8Array;
  kem: Uint8Array;
  name: string;
  added: { seq: number; time: number };
  revoked?: { seq: number; time: number };
}

/** What a verified log says. Immutable: applying an op returns a new state. */
export interface DeviceLogState {
  /** The account id: the hash of the genesis op. */
  account: Uint8Array;
  seq: number;
  head: Uint8Array;
  /** The account key in force (Ed25519 public). */
  accountKey: Uint8Array;
  /**
   * Its salt and cost when the last passphrase op named them; undefined while the genesis
   * key is in force (its parameters are account data kept beside the log, decision 0031).
   */
  accountParams?: AccountKeyParams;
  devices: readonly LoggedDevice[];
  /** Hashes (hex) of every op, oldest first: replays are told from forks by them. */
  hashes: readonly string[];
}

/** A device's id: the first 8 bytes of BLAKE2b-256("parus-device-id-v1" || Ed25519 key). */
export function deviceIdBytes(signKey: Uint8Array): Uint8Array {
  if (!(signKey instanceof Uint8Array) || signKey.length !== SIGN_PUBLIC_BYTES)
    throw new UsageError(`device key must be ${SIGN_PUBLIC_BYTES} bytes`);
  return hash(concatBytes(ID_CONTEXT, signKey)).slice(0, DEVICE_ID_BYTES);
}

export function deviceId(signKey: Uint8Array): string {
  return toHex(deviceIdBytes(signKey));
}

/**
 * The account key from the passphrase: Ed25519 with seed Argon2id(passphrase, salt, cost),
 * keyed apart from any other use of the same passphrase by BLAKE2b over a context. Slow on
 * purpose; the caller wipes the secret key when done.
 */
export function accountKeyFromPassphrase(
  passphrase: Uint8Array,
  salt: Uint8Array,
  cost: Argon2idCost,
): SignKeyPair {
  if (!(passphrase instanceof Uint8Array) || passphrase.length === 0)
    throw new UsageError('passphrase must not be empty');
  const stretched = argon2id(passphrase, salt, cost);
  const seed = hash(concatBytes(ACCOUNT_KEY_CONTEXT, stretched));
  try {
    return signKeyPairFromSeed(seed);
  } finally {
    wipe(stretched, seed);
  }
}

function entryMap(e: Omit<DeviceEntry, 'pop'>): CborMap {
  return { sign: e.sign, dh: e.dh, kem: e.kem, name: e.name };
}

/** A device describes itself for the log, and proves it holds its signing key. */
export function createDeviceEntry(opts: {
  device: SignKeyPair;
  dh: Uint8Array;
  kem: Uint8Array;
  name: string;
}): DeviceEntry {
  const { device, dh, kem, name } = opts;
  assertKeyPair(device, 'device');
  if (!(dh instanceof Uint8Array) || dh.length !== 32)
    throw new UsageError('device X25519 key must be 32 bytes');
  if (!(kem instanceof Uint8Array) || kem.length !== XWING_PUBLIC_BYTES)
    throw new UsageError(`device X-Wing key must be ${XWING_PUBLIC_BYTES} bytes`);
  const fault = nameFault(name, MAX_DEVICE_NAME_CHARS);
  if (fault !== undefined) throw new UsageError(`device name ${fault}`);
  const unsigned = { sign: device.publicKey.slice(), dh: dh.slice(), kem: kem.slice(), name };
  return {
    ...unsigned,
    pop: sign(device.secretKey, concatBytes(POP_CONTEXT, encodeCbor(entryMap(unsigned)))),
  };
}

function assertKeyPair(kp: SignKeyPair, what: string): void {
  if (kp?.publicKey?.length !== SIGN_PUBLIC_BYTES || kp.secretKey?.length !== SIGN_SECRET_BYTES)
    throw new UsageError(`${what} must be an Ed25519 key pair`);
}

function bodyMap(op: DeviceOpBody): CborMap {
  switch (op.type) {
    case 'genesis':
      return { device: { ...entryMap(op.device), pop: op.device.pop }, account: op.account };
    case 'add':
      return { device: { ...entryMap(op.device), pop: op.device.pop } };
    case 'revoke':
      return { id: op.id };
    case 'passphrase':
      return op.params
        ? {
            account: op.account,
            salt: op.params.salt,
            ops: op.params.cost.opsLimit,
            mem: op.params.cost.memLimit,
          }
        : { account: op.account };
  }
}

function unsignedMap(op: UnsignedOp): CborMap {
  return { v: op.v, seq: op.seq, prev: op.prev, type: op.type, body: bodyMap(op), time: op.time, by: op.by };
}

function signingBytes(op: UnsignedOp): Uint8Array {
  return concatBytes(OP_CONTEXT, encodeCbor(unsignedMap(op)));
}

export function encodeDeviceOp(op: DeviceOp): Uint8Array {
  const m: CborMap = { ...unsignedMap(op), sig: op.sig, asig: op.asig };
  if (op.nsig) m.nsig = op.nsig;
  return encodeCbor(m);
}

/** BLAKE2b-256 of the encoded op: what the next op's `prev` names. */
export function deviceOpHash(op: DeviceOp): Uint8Array {
  return hash(encodeDeviceOp(op));
}

const OP_LIMITS = { maxBytes: MAX_DEVICE_OP_BYTES, maxDepth: 3, maxItems: 12, maxTotalItems: 40 };

function readEntry(value: CborMap[string]): DeviceEntry {
  const m = asMap(value, 'device entry');
  if (Object.keys(m).sort().join(',') !== 'dh,kem,name,pop,sign')
    throw new DecodeError('device entry fields');
  const name = asText(m.name, 'device name', MAX_DEVICE_NAME_CHARS * 4);
  const fault = nameFault(name, MAX_DEVICE_NAME_CHARS);
  if (fault !== undefined) throw new DecodeError(`device name ${fault}`);
  const entry: DeviceEntry = {
    sign: asBytes(m.sign, 'device key', { len: SIGN_PUBLIC_BYTES }),
    dh: asBytes(m.dh, 'device X25519 key', { len: 32 }),
    kem: asBytes(m.kem, 'device X-Wing key', { len: XWING_PUBLIC_BYTES }),
    name,
    pop: asBytes(m.pop, 'device proof of possession', { len: SIGNATURE_BYTES }),
  };
  if (!verify(entry.sign, concatBytes(POP_CONTEXT, encodeCbor(entryMap(entry))), entry.pop))
    throw new VerificationError('device entry not signed by its key');
  return entry;
}

/**
 * Strict decoding (DecodeError), the device proofs of possession and the signature by `by`
 * (VerificationError). Whether `by` and the account key may sign is for `applyDeviceOp`.
 */
export function decodeDeviceOp(bytes: Uint8Array): DeviceOp {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('device op must be bytes');
  if (bytes.length > MAX_DEVICE_OP_BYTES)
    throw new DecodeError(`device op larger than ${MAX_DEVICE_OP_BYTES} bytes`);
  const m = asMap(decodeCbor(bytes, OP_LIMITS), 'device op');
  const v = asUint(m.v, 'device op version');
  if (v !== DEVICE_LOG_VERSION) throw new DecodeError(`unknown device op version ${v}`);
  const typeText = asText(m.type, 'device op type', 16);
  const type = OP_TYPES.find((t) => t === typeText);
  if (type === undefined) throw new DecodeError('unknown device op type');
  const expected =
    type === 'passphrase'
      ? 'asig,body,by,nsig,prev,seq,sig,time,type,v'
      : 'asig,body,by,prev,seq,sig,time,type,v';
  if (Object.keys(m).sort().join(',') !== expected) throw new DecodeError('device op fields');
  const b = asMap(m.body, 'device op body');
  const bodyKeys = Object.keys(b).sort().join(',');
  let body: DeviceOpBody;
  switch (type) {
    case 'genesis':
      if (bodyKeys !== 'account,device') throw new DecodeError('genesis body fields');
      body = {
        type,
        device: readEntry(b.device),
        account: asBytes(b.account, 'account key', { len: SIGN_PUBLIC_BYTES }),
      };
      break;
    case 'add':
      if (bodyKeys !== 'device') throw new DecodeError('add body fields');
      body = { type, device: readEntry(b.device) };
      break;
    case 'revoke':
      if (bodyKeys !== 'id') throw new DecodeError('revoke body fields');
      body = { type, id: asBytes(b.id, 'device id', { len: DEVICE_ID_BYTES }) };
      break;
    case 'passphrase': {
      if (bodyKeys !== 'account' && bodyKeys !== 'account,mem,ops,salt')
        throw new DecodeError('passphrase body fields');
      body = { type, account: asBytes(b.account, 'account key', { len: SIGN_PUBLIC_BYTES }) };
      if (bodyKeys !== 'account') {
        const cost = {
          opsLimit: asUint(b.ops, 'account key passes', MAX_ACCOUNT_KEY_COST.opsLimit),
          memLimit: asUint(b.mem, 'account key memory', MAX_ACCOUNT_KEY_COST.memLimit),
        };
        if (cost.opsLimit < MIN_ACCOUNT_KEY_COST.opsLimit || cost.memLimit < MIN_ACCOUNT_KEY_COST.memLimit)
          throw new DecodeError('account key cost below the bounds');
        body.params = { salt: asBytes(b.salt, 'account key salt', { len: ARGON2ID_SALT_BYTES }), cost };
      }
      break;
    }
  }
  const op: DeviceOp = {
    ...body,
    v: DEVICE_LOG_VERSION,
    seq: asUint(m.seq, 'device op seq', MAX_DEVICE_LOG_OPS - 1),
    prev: asBytes(m.prev, 'device op prev', { len: OP_HASH_BYTES }),
    time: asUint(m.time, 'device op time'),
    by: asBytes(m.by, 'device op signer', { len: SIGN_PUBLIC_BYTES }),
    sig: asBytes(m.sig, 'device op signature', { len: SIGNATURE_BYTES }),
    asig: asBytes(m.asig, 'device op account signature', { len: SIGNATURE_BYTES }),
  };
  if (type === 'passphrase')
    op.nsig = asBytes(m.nsig, 'device op new account signature', { len: SIGNATURE_BYTES });
  if (!verify(op.by, signingBytes(op), op.sig)) throw new VerificationError('bad signature on device op');
  return op;
}

function signOp(
  unsigned: UnsignedOp,
  device: SignKeyPair,
  accountKey: SignKeyPair,
  newAccountKey?: SignKeyPair,
): DeviceOp {
  const bytes = signingBytes(unsigned);
  const op = {
    ...unsigned,
    sig: sign(device.secretKey, bytes),
    asig: sign(accountKey.secretKey, bytes),
  } as DeviceOp;
  if (newAccountKey) op.nsig = sign(newAccountKey.secretKey, bytes);
  return op;
}

function checkTime(time: number): void {
  if (!Number.isSafeInteger(time) || time < 0) throw new UsageError('time must be ms since the epoch');
}

/** The first op of a new account: its first device and the account key. */
export function createGenesisOp(opts: {
  device: SignKeyPair;
  entry: DeviceEntry;
  accountKey: SignKeyPair;
  time: number;
}): DeviceOp {
  assertKeyPair(opts.device, 'device');
  assertKeyPair(opts.accountKey, 'account key');
  checkTime(opts.time);
  if (!equalSecret(opts.entry.sign, opts.device.publicKey))
    throw new UsageError('entry is not the signing device');
  return signOp(
    {
      v: DEVICE_LOG_VERSION,
      seq: 0,
      prev: ZERO_HASH.slice(),
      type: 'genesis',
      device: opts.entry,
      account: opts.accountKey.publicKey.slice(),
      time: opts.time,
      by: opts.device.publicKey.slice(),
    },
    opts.device,
    opts.accountKey,
  );
}

/**
 * The next op on `state`, signed by `device` (a current device, or the added device itself
 * for an `add` after a restore) and the account key; a `passphrase` op also by the new key.
 * The result is checked against the state before it is returned.
 */
export function createDeviceOp(
  state: DeviceLogState,
  opts: {
    device: SignKeyPair;
    accountKey: SignKeyPair;
    time: number;
  } & (
    | { type: 'add'; entry: DeviceEntry }
    | { type: 'revoke'; id: string }
    | { type: 'passphrase'; newAccountKey: SignKeyPair; params?: AccountKeyParams }
  ),
): DeviceOp {
  assertKeyPair(opts.device, 'device');
  assertKeyPair(opts.accountKey, 'account key');
  checkTime(opts.time);
  const base = {
    v: DEVICE_LOG_VERSION,
    seq: state.seq + 1,
    prev: state.head.slice(),
    time: opts.time,
    by: opts.device.publicKey.slice(),
  } as const;
  let op: DeviceOp;
  if (opts.type === 'add') {
    op = signOp({ ...base, type: 'add', device: opts.entry }, opts.device, opts.accountKey);
  } else if (opts.type === 'revoke') {
    if (!/^[0-9a-f]{16}$/.test(opts.id)) throw new UsageError('device id must be 16 hex digits');
    const id = Uint8Array.from(opts.id.match(/../g) ?? [], (h) => parseInt(h, 16));
    op = signOp({ ...base, type: 'revoke', id }, opts.device, opts.accountKey);
  } else {
    assertKeyPair(opts.newAccountKey, 'new account key');
    const params = opts.params && checkedParams(opts.params);
    op = signOp(
      {
        ...base,
        type: 'passphrase',
        account: opts.newAccountKey.publicKey.slice(),
        ...(params ? { params } : {}),
      },
      opts.device,
      opts.accountKey,
      opts.newAccountKey,
    );
  }
  applyDeviceOp(state, op);
  return op;
}

function checkedParams(p: AccountKeyParams): AccountKeyParams {
  const { opsLimit, memLimit } = p.cost;
  if (!(p.salt instanceof Uint8Array) || p.salt.length !== ARGON2ID_SALT_BYTES)
    throw new UsageError(`account key salt must be ${ARGON2ID_SALT_BYTES} bytes`);
  if (!argon2idCostWithin(p.cost, MIN_ACCOUNT_KEY_COST, MAX_ACCOUNT_KEY_COST))
    throw new UsageError('account key cost out of bounds');
  return { salt: p.salt.slice(), cost: { opsLimit, memLimit } };
}

function current(state: DeviceLogState, key: Uint8Array): LoggedDevice | undefined {
  return state.devices.find((d) => d.revoked === undefined && equalSecret(d.sign, key));
}

function logged(entry: DeviceEntry, seq: number, time: number): LoggedDevice {
  return {
    id: deviceId(entry.sign),
    sign: entry.sign,
    dh: entry.dh,
    kem: entry.kem,
    name: entry.name,
    added: { seq, time },
  };
}

/** Starts a log from its genesis op (decoded, so its device signature already checked). */
export function startDeviceLog(op: DeviceOp): DeviceLogState {
  if (op.type !== 'genesis') throw new ProtocolError('a device log starts with its genesis');
  if (op.seq !== 0 || !equalSecret(op.prev, ZERO_HASH)) throw new ProtocolError('genesis must be op 0');
  const bytes = signingBytes(op);
  if (!verify(op.by, bytes, op.sig)) throw new VerificationError('bad signature on device op');
  if (!equalSecret(op.by, op.device.sign)) throw new AuthError('genesis not signed by its device');
  if (!verify(op.account, bytes, op.asig)) throw new AuthError('genesis without the account key’s signature');
  const h = deviceOpHash(op);
  return {
    account: h,
    seq: 0,
    head: h,
    accountKey: op.account,
    devices: [logged(op.device, 0, op.time)],
    hashes: [toHex(h)],
  };
}

/**
 * The state after `op`, or a typed refusal (see the file comment); `state` is never changed.
 * An op that is already in the log is a ReplayError; another op at a taken position is a fork
 * (ProtocolError): which branch wins is the caller's rule (decision 0030), not the log's.
 */
export function applyDeviceOp(state: DeviceLogState, op: DeviceOp): DeviceLogState {
  const h = deviceOpHash(op);
  const hex = toHex(h);
  if (state.hashes.includes(hex)) throw new ReplayError('device op already in the log');
  if (op.type === 'genesis') throw new ProtocolError('a second genesis');
  if (op.seq <= state.seq) throw new ProtocolError('device op forks the log');
  if (op.seq !== state.seq + 1) throw new ProtocolError('device op leaves a gap in the log');
  if (!equalSecret(op.prev, state.head)) throw new ProtocolError('device op forks the log');
  if (state.hashes.length >= MAX_DEVICE_LOG_OPS) throw new ProtocolError('device log is full');
  const bytes = signingBytes(op);
  if (!verify(op.by, bytes, op.sig)) throw new VerificationError('bad signature on device op');
  const signer = current(state, op.by);
  const selfAdd = op.type === 'add' && equalSecret(op.by, op.device.sign);
  if (!signer && !selfAdd) throw new AuthError('device op not signed by a current device');
  if (!verify(state.accountKey, bytes, op.asig))
    throw new AuthError('device op without the passphrase proof (account key signature)');
  let devices = state.devices;
  let accountKey = state.accountKey;
  let accountParams = state.accountParams;
  switch (op.type) {
    case 'add': {
      const id = deviceId(op.device.sign);
      if (devices.some((d) => d.id === id)) throw new ProtocolError('device already in the log');
      if (devices.length >= MAX_ACCOUNT_DEVICES) throw new ProtocolError('too many devices');
      devices = [...devices, logged(op.device, op.seq, op.time)];
      break;
    }
    case 'revoke': {
      const id = toHex(op.id);
      const target = devices.find((d) => d.id === id);
      if (!target) throw new ProtocolError('revoking an unknown device');
      if (target.revoked) throw new ProtocolError('device already revoked');
      if (devices.filter((d) => d.revoked === undefined).length <= 1)
        throw new ProtocolError('revoking the last device');
      devices = devices.map((d) => (d.id === id ? { ...d, revoked: { seq: op.seq, time: op.time } } : d));
      break;
    }
    case 'passphrase':
      if (!op.nsig || !verify(op.account, bytes, op.nsig))
        throw new AuthError('new account key does not sign its passphrase op');
      accountKey = op.account;
      if (op.params) accountParams = op.params;
      break;
  }
  return {
    ...state,
    seq: op.seq,
    head: h,
    accountKey,
    ...(accountParams ? { accountParams } : {}),
    devices,
    hashes: [...state.hashes, hex],
  };
}

/** Current (not revoked) devices. */
export function currentDevices(state: DeviceLogState): LoggedDevice[] {
  return state.devices.filter((d) => d.revoked === undefined);
}

/** A whole log: a CBOR array of encoded ops, oldest first. */
export function encodeDeviceLog(ops: readonly DeviceOp[]): Uint8Array {
  return encodeCbor(ops.map(encodeDeviceOp));
}

/** Decodes and verifies a whole log from its genesis. */
export function decodeDeviceLog(bytes: Uint8Array): { ops: DeviceOp[]; state: DeviceLogState } {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('device log must be bytes');
  const maxBytes = MAX_DEVICE_LOG_OPS * (MAX_DEVICE_OP_BYTES + 4) + 8;
  if (bytes.length > maxBytes) throw new DecodeError('device log too large');
  const items = decodeCbor(bytes, {
    maxBytes,
    maxDepth: 1,
    maxItems: MAX_DEVICE_LOG_OPS,
    maxTotalItems: MAX_DEVICE_LOG_OPS + 1,
  });
  if (!Array.isArray(items) || items.length === 0)
    throw new DecodeError('device log must be a non-empty array');
  const ops = items.map((item) => decodeDeviceOp(asBytes(item, 'device op', { max: MAX_DEVICE_OP_BYTES })));
  let state = startDeviceLog(ops[0]!);
  for (const op of ops.slice(1)) state = applyDeviceOp(state, op);
  return { ops, state };
}

/**
 * Two devices' logs of the same account brought together (docs/decisions/0030 "Forks between
 * own devices"): when one is a prefix of the other, the longer; when they fork, the branch that
 * changes the passphrase if only one does (decision 0061), else the branch whose op at the fork
 * has the lower hash: the same choice on every device. Two branches that both change the
 * passphrase are a ProtocolError: each device keeps the log it has. `dropped` are the losing
 * branch's ops, which their authors may sign again on the winning head. Both logs are checked
 * from their genesis (decodeDeviceLog's errors); another account's log is a ProtocolError.
 */
export function mergeDeviceLogs(
  mine: Uint8Array,
  theirs: Uint8Array,
): { ops: DeviceOp[]; state: DeviceLogState; dropped: DeviceOp[]; changed: boolean } {
  const a = decodeDeviceLog(mine);
  const b = decodeDeviceLog(theirs);
  if (!equalSecret(a.state.account, b.state.account))
    throw new ProtocolError('device log of another account');
  const ha = a.state.hashes;
  const hb = b.state.hashes;
  let fork = 0;
  while (fork < ha.length && fork < hb.length && ha[fork] === hb[fork]) fork++;
  if (fork === hb.length) return { ...a, dropped: [], changed: false };
  if (fork === ha.length) return { ...b, dropped: [], changed: true };
  // A branch that changes the passphrase wins over one that does not (decision 0061): the op
  // that loses must be signed again with the account key in force, and the device whose
  // passphrase change lost could not sign with the old key any more (its user knows the new one).
  const changesA = a.ops.slice(fork).some((op) => op.type === 'passphrase');
  const changesB = b.ops.slice(fork).some((op) => op.type === 'passphrase');
  // Both: refused, each device keeps its own. A thief who holds an old passphrase and a device
  // from before the fork could otherwise make a branch that wins by its hash half the time.
  if (changesA && changesB) throw new ProtocolError('two passphrase changes fork the device log');
  const theirsWins = changesA !== changesB ? changesB : hb[fork]! < ha[fork]!;
  return theirsWins
    ? { ...b, dropped: a.ops.slice(fork), changed: true }
    : { ...a, dropped: [], changed: false };
}

/**
 * Whether an op that lost a fork (mergeDeviceLogs' `dropped`) still means something on the
 * winning log `state` (decision 0030 "Forks between own devices", 0061): a `revoke` of a device
 * that is still current and not the last; an `add` of a device the log does not hold; a
 * `passphrase` change while the account key it replaced is still in force. Anything else (a
 * device revoked on the other branch too, a passphrase changed there as well) is dropped.
 */
export function deviceOpStillHolds(state: DeviceLogState, op: DeviceOp): boolean {
  switch (op.type) {
    case 'genesis':
      return false;
    case 'revoke': {
      const id = toHex(op.id);
      const live = currentDevices(state);
      return live.some((d) => d.id === id) && live.length > 1;
    }
    case 'add':
      return (
        !state.devices.some((d) => d.id === deviceId(op.device.sign)) &&
        state.devices.length < MAX_ACCOUNT_DEVICES
      );
    case 'passphrase':
      return verify(state.accountKey, signingBytes(op), op.asig);
  }
}

/**
 * The op `op` again on the head of `state`, with the same body, signed anew by `device` (its
 * author: a current device, or the added device itself for its own `add`) and the account key in
 * force; a `passphrase` op also by the new account key, which must be the op's. Checked against
 * the state as createDeviceOp does (typed errors: a wrong key is an AuthError).
 */
export function resignDeviceOp(
  state: DeviceLogState,
  op: DeviceOp,
  opts: { device: SignKeyPair; accountKey: SignKeyPair; newAccountKey?: SignKeyPair; time: number },
): DeviceOp {
  assertKeyPair(opts.device, 'device');
  assertKeyPair(opts.accountKey, 'account key');
  checkTime(opts.time);
  if (op.type === 'genesis') throw new ProtocolError('a genesis is never signed again');
  if (!equalSecret(op.by, opts.device.publicKey)) throw new UsageError('only its author signs an op again');
  const base = {
    v: DEVICE_LOG_VERSION,
    seq: state.seq + 1,
    prev: state.head.slice(),
    time: opts.time,
    by: opts.device.publicKey.slice(),
  } as const;
  let signed: DeviceOp;
  if (op.type === 'passphrase') {
    if (!opts.newAccountKey || !equalSecret(opts.newAccountKey.publicKey, op.account))
      throw new AuthError('not the new account key of this passphrase op');
    const { type, account, params } = op;
    signed = signOp(
      { ...base, type, account, ...(params ? { params } : {}) },
      opts.device,
      opts.accountKey,
      opts.newAccountKey,
    );
  } else if (op.type === 'add') {
    signed = signOp({ ...base, type: 'add', device: op.device }, opts.device, opts.accountKey);
  } else {
    signed = signOp({ ...base, type: 'revoke', id: op.id }, opts.device, opts.accountKey);
  }
  applyDeviceOp(state, signed);
  return signed;
}
