/**
 * Sender Keys for group messages (DESIGN.md "Groups", issue 4): Signal's Sender Key construction
 * (libsignal's sender key state and SenderKeyMessage; Matrix's Megolm is the same idea). Each
 * member device owns a sending chain per group, a symmetric hash ratchet plus an Ed25519 signing
 * key, and gives the chain's current state to every member device once, over the 1:1 sessions
 * (the client's job). Then one encryption serves the whole group: the relay fans out a single
 * ciphertext.
 *
 * - Chain step, KDF_CK as in the Double Ratchet (§5.2) and Signal's sender chain key:
 *   message key = HMAC-SHA-256(ck, 0x01), next chain key = HMAC-SHA-256(ck, 0x02).
 * - Message cipher: HKDF-SHA-256(ikm = message key, salt = 32 zero bytes,
 *   info = "parus-sender-key-message-v1"), 56 bytes: an XChaCha20-Poly1305 key || nonce. Each
 *   message key is used once, so a derived nonce is safe. AD = caller's ad || header.
 * - Wire message: header = version 0x01 || chain id (16) || iteration (u32 BE), then the
 *   ciphertext, then an Ed25519 signature by the chain's signing key over
 *   "parus-sender-key-sig-v1" || header || ciphertext. Every member knows the chain key, so
 *   only the signature tells the sender apart (as libsignal signs SenderKeyMessage).
 * - Receivers accept a jump of at most MAX_SENDER_SKIP iterations and keep at most
 *   MAX_SENDER_SKIPPED keys of skipped messages (the oldest go first), like libsignal's
 *   sender key limits.
 *
 * Forward secrecy per message: the chain only moves forward and every message key is deleted
 * once used, so a stolen state opens nothing already read. A chain given to a newcomer starts at
 * its current iteration: earlier messages stay closed. A chain heals nothing (no Diffie-Hellman
 * step), so the client replaces it (rotateSenderChain) when a member leaves or is removed, after
 * SENDER_CHAIN_MAX_MESSAGES messages and after SENDER_CHAIN_MAX_AGE_MS
 * (senderChainNeedsRotation).
 *
 * The functions are pure: they never change the state passed in, and what they return shares no
 * byte array with it, so the caller may wipe the old state once it has stored the new one. On any
 * error the input state stays valid and unchanged.
 */
import { concatBytes, equalBytes, u32be, utf8 } from './bytes.ts';
import {
  asArray,
  asBytes,
  asMap,
  asUint,
  decodeCbor,
  encodeCbor,
  type CborMap,
  type CborValue,
} from './cbor.ts';
import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  SIGNATURE_BYTES,
  SIGN_PUBLIC_BYTES,
  SIGN_SECRET_BYTES,
  SEED_BYTES,
  assertSignature,
  generateSignKeyPair,
  hkdf,
  hmacSha256,
  open,
  seal,
  sign,
  signKeyPairFromSeed,
  wipe,
  type Random,
  type SignKeyPair,
} from './crypto.ts';
import { DecodeError, ProtocolError, QuotaError, ReplayError, UsageError } from './errors.ts';
import { GROUP_ID_BYTES } from './group-event.ts';

export const SENDER_CHAIN_ID_BYTES = 16;
/** Most iterations one message may make a receiver skip. */
export const MAX_SENDER_SKIP = 2_000;
/** Most skipped message keys a receiver keeps for one chain; the oldest go first. */
export const MAX_SENDER_SKIPPED = 500;
/** The client rotates its chain after this many messages... */
export const SENDER_CHAIN_MAX_MESSAGES = 100;
/** ...and after this long (7 days), and whenever a member leaves or is removed. */
export const SENDER_CHAIN_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
/** As the Double Ratchet's: the largest padding bucket fits, under the relay's body limit. */
export const SENDER_MAX_PLAINTEXT_BYTES = 160 * 1024;

const VERSION = 1;
const KEY_BYTES = 32;
const U32_MAX = 0xffffffff;
const HEADER_BYTES = 1 + SENDER_CHAIN_ID_BYTES + 4;
/** header || tag || signature: what a message adds to its plaintext. */
export const SENDER_MESSAGE_OVERHEAD = HEADER_BYTES + AEAD_TAG_BYTES + SIGNATURE_BYTES;
export const SENDER_MAX_MESSAGE_BYTES = SENDER_MESSAGE_OVERHEAD + SENDER_MAX_PLAINTEXT_BYTES;

const MESSAGE_INFO = utf8('parus-sender-key-message-v1');
const MESSAGE_SALT = new Uint8Array(32);
const SIG_CONTEXT = utf8('parus-sender-key-sig-v1');
const CK_MESSAGE = Uint8Array.of(0x01);
const CK_CHAIN = Uint8Array.of(0x02);

/** A device's own sending chain in one group. Holds secrets: store it encrypted. */
export interface SenderChain {
  readonly chainId: Uint8Array;
  /** The iteration of the next message. */
  readonly iteration: number;
  /** The chain key for `iteration`. */
  readonly chainKey: Uint8Array;
  readonly signingKey: SignKeyPair;
}

/** What a member sends the others over 1:1 sessions so they can read its chain from now on. */
export interface SenderKeyDistribution {
  readonly group: Uint8Array;
  readonly chainId: Uint8Array;
  readonly iteration: number;
  readonly chainKey: Uint8Array;
  readonly signingPublicKey: Uint8Array;
}

export interface SenderSkippedKey {
  readonly iteration: number;
  readonly messageKey: Uint8Array;
}

/** A receiver's view of one sender chain. Holds secrets: store it encrypted. */
export interface SenderReceiverState {
  readonly group: Uint8Array;
  readonly chainId: Uint8Array;
  /** The next iteration expected. */
  readonly iteration: number;
  /** The chain key for `iteration`. */
  readonly chainKey: Uint8Array;
  readonly signingPublicKey: Uint8Array;
  /** Keys of messages skipped and not yet received, by increasing iteration. */
  readonly skipped: readonly SenderSkippedKey[];
}

/** A sender-key message split into its fields. */
export interface SenderMessage {
  readonly chainId: Uint8Array;
  readonly iteration: number;
  readonly ciphertext: Uint8Array;
  readonly signature: Uint8Array;
}

// ---- Checks at the door ---------------------------------------------------------------------

type ErrorClass = new (message: string) => Error;

function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length;
}

function isCounter(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= U32_MAX;
}

function checkChain(chain: SenderChain, fail: ErrorClass): void {
  if (chain === null || typeof chain !== 'object') throw new fail('sender chain must be an object');
  if (!isBytes(chain.chainId, SENDER_CHAIN_ID_BYTES))
    throw new fail(`sender chain id must be ${SENDER_CHAIN_ID_BYTES} bytes`);
  if (!isCounter(chain.iteration)) throw new fail('sender chain iteration must be a 32-bit counter');
  if (!isBytes(chain.chainKey, KEY_BYTES)) throw new fail(`sender chain key must be ${KEY_BYTES} bytes`);
  if (
    !isBytes(chain.signingKey?.publicKey, SIGN_PUBLIC_BYTES) ||
    !isBytes(chain.signingKey.secretKey, SIGN_SECRET_BYTES)
  ) {
    throw new fail('sender chain signing key must be an Ed25519 key pair');
  }
}

function checkDistribution(d: SenderKeyDistribution, fail: ErrorClass): void {
  if (d === null || typeof d !== 'object') throw new fail('sender key distribution must be an object');
  if (!isBytes(d.group, GROUP_ID_BYTES)) throw new fail(`group id must be ${GROUP_ID_BYTES} bytes`);
  if (!isBytes(d.chainId, SENDER_CHAIN_ID_BYTES))
    throw new fail(`sender chain id must be ${SENDER_CHAIN_ID_BYTES} bytes`);
  if (!isCounter(d.iteration)) throw new fail('sender chain iteration must be a 32-bit counter');
  if (!isBytes(d.chainKey, KEY_BYTES)) throw new fail(`sender chain key must be ${KEY_BYTES} bytes`);
  if (!isBytes(d.signingPublicKey, SIGN_PUBLIC_BYTES))
    throw new fail(`signing public key must be ${SIGN_PUBLIC_BYTES} bytes`);
}

function checkReceiver(s: SenderReceiverState, fail: ErrorClass): void {
  checkDistribution(s, fail);
  if (!Array.isArray(s.skipped)) throw new fail('skipped keys must be a list');
  if (s.skipped.length > MAX_SENDER_SKIPPED) throw new fail(`more than ${MAX_SENDER_SKIPPED} skipped keys`);
  let previous = -1;
  for (const k of s.skipped) {
    if (k === null || typeof k !== 'object' || !isCounter(k.iteration) || !isBytes(k.messageKey, KEY_BYTES)) {
      throw new fail('malformed skipped key');
    }
    if (k.iteration <= previous || k.iteration >= s.iteration) throw new fail('skipped keys out of order');
    previous = k.iteration;
  }
}

// ---- Chains -----------------------------------------------------------------------------------

/** A fresh chain: random id, random chain key, new signing key, iteration 0. */
export function rotateSenderChain(rng: Random): SenderChain {
  const chainId = rng.bytes(SENDER_CHAIN_ID_BYTES);
  const chainKey = rng.bytes(KEY_BYTES);
  return { chainId, iteration: 0, chainKey, signingKey: generateSignKeyPair(rng) };
}

/**
 * Whether the client must replace its chain before sending: after SENDER_CHAIN_MAX_MESSAGES
 * messages, once SENDER_CHAIN_MAX_AGE_MS have passed since `createdAt`, or when the clock reads
 * earlier than `createdAt` (the age is then unknown). Removals are the client's own trigger.
 */
export function senderChainNeedsRotation(chain: SenderChain, now: number, createdAt: number): boolean {
  checkChain(chain, UsageError);
  if (!Number.isSafeInteger(now) || now < 0) throw new UsageError('now must be ms since the epoch');
  if (!Number.isSafeInteger(createdAt) || createdAt < 0)
    throw new UsageError('createdAt must be ms since the epoch');
  return (
    chain.iteration >= SENDER_CHAIN_MAX_MESSAGES ||
    now < createdAt ||
    now - createdAt >= SENDER_CHAIN_MAX_AGE_MS
  );
}

/** The distribution of a chain's current state for `group`. */
export function senderKeyDistribution(chain: SenderChain, group: Uint8Array): SenderKeyDistribution {
  checkChain(chain, UsageError);
  if (!isBytes(group, GROUP_ID_BYTES)) throw new UsageError(`group id must be ${GROUP_ID_BYTES} bytes`);
  return {
    group: group.slice(),
    chainId: chain.chainId.slice(),
    iteration: chain.iteration,
    chainKey: chain.chainKey.slice(),
    signingPublicKey: chain.signingKey.publicKey.slice(),
  };
}

/** A receiver state that reads the distributed chain from its iteration on. */
export function senderReceiverFromDistribution(d: SenderKeyDistribution): SenderReceiverState {
  checkDistribution(d, UsageError);
  return {
    group: d.group.slice(),
    chainId: d.chainId.slice(),
    iteration: d.iteration,
    chainKey: d.chainKey.slice(),
    signingPublicKey: d.signingPublicKey.slice(),
    skipped: [],
  };
}

// ---- Messages ---------------------------------------------------------------------------------

/** KDF_CK(ck): the message key for this iteration and the next chain key. */
function chainStep(chainKey: Uint8Array): { chainKey: Uint8Array; messageKey: Uint8Array } {
  return { chainKey: hmacSha256(chainKey, CK_CHAIN), messageKey: hmacSha256(chainKey, CK_MESSAGE) };
}

function withMessageCipher<T>(messageKey: Uint8Array, use: (key: Uint8Array, nonce: Uint8Array) => T): T {
  const okm = hkdf(messageKey, MESSAGE_SALT, MESSAGE_INFO, AEAD_KEY_BYTES + AEAD_NONCE_BYTES);
  try {
    return use(okm.subarray(0, AEAD_KEY_BYTES), okm.subarray(AEAD_KEY_BYTES));
  } finally {
    wipe(okm);
  }
}

function header(chainId: Uint8Array, iteration: number): Uint8Array {
  return concatBytes(Uint8Array.of(VERSION), chainId, u32be(iteration));
}

export function encodeSenderMessage(m: SenderMessage): Uint8Array {
  if (!isBytes(m.chainId, SENDER_CHAIN_ID_BYTES))
    throw new UsageError(`sender chain id must be ${SENDER_CHAIN_ID_BYTES} bytes`);
  if (!isCounter(m.iteration) || m.iteration === U32_MAX) throw new UsageError('iteration out of range');
  if (
    !(m.ciphertext instanceof Uint8Array) ||
    m.ciphertext.length < AEAD_TAG_BYTES ||
    m.ciphertext.length > SENDER_MAX_PLAINTEXT_BYTES + AEAD_TAG_BYTES
  ) {
    throw new UsageError('sender ciphertext has an impossible size');
  }
  if (!isBytes(m.signature, SIGNATURE_BYTES))
    throw new UsageError(`signature must be ${SIGNATURE_BYTES} bytes`);
  return concatBytes(header(m.chainId, m.iteration), m.ciphertext, m.signature);
}

/** Splits a message; DecodeError for an unknown version, an impossible size or iteration. */
export function decodeSenderMessage(bytes: Uint8Array): SenderMessage {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('sender message must be bytes');
  if (bytes.length < SENDER_MESSAGE_OVERHEAD) throw new DecodeError('sender message too short');
  if (bytes.length > SENDER_MAX_MESSAGE_BYTES) throw new DecodeError('sender message too long');
  if (bytes[0] !== VERSION) throw new DecodeError('unknown sender message version');
  const iteration = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(
    1 + SENDER_CHAIN_ID_BYTES,
  );
  // The sender refuses to use the last iteration, so that a receiver's counter always fits.
  if (iteration === U32_MAX) throw new DecodeError('sender message iteration out of range');
  return {
    chainId: bytes.slice(1, 1 + SENDER_CHAIN_ID_BYTES),
    iteration,
    ciphertext: bytes.slice(HEADER_BYTES, bytes.length - SIGNATURE_BYTES),
    signature: bytes.slice(bytes.length - SIGNATURE_BYTES),
  };
}

/**
 * Encrypts one group message on the device's own chain: returns the advanced chain and the wire
 * message. QuotaError when the chain is exhausted (2^32 - 1 messages; rotation comes long before).
 */
export function senderEncrypt(
  chain: SenderChain,
  plaintext: Uint8Array,
  ad: Uint8Array,
): { chain: SenderChain; message: Uint8Array } {
  checkChain(chain, UsageError);
  if (!(plaintext instanceof Uint8Array)) throw new UsageError('plaintext must be bytes');
  if (plaintext.length > SENDER_MAX_PLAINTEXT_BYTES)
    throw new UsageError(`plaintext longer than ${SENDER_MAX_PLAINTEXT_BYTES} bytes`);
  if (!(ad instanceof Uint8Array)) throw new UsageError('associated data must be bytes');
  if (chain.iteration >= U32_MAX) throw new QuotaError('sender chain exhausted');

  const { chainKey, messageKey } = chainStep(chain.chainKey);
  const head = header(chain.chainId, chain.iteration);
  let ciphertext: Uint8Array;
  try {
    ciphertext = withMessageCipher(messageKey, (key, nonce) =>
      seal(key, nonce, plaintext, concatBytes(ad, head)),
    );
  } finally {
    wipe(messageKey);
  }
  const signature = sign(chain.signingKey.secretKey, concatBytes(SIG_CONTEXT, head, ciphertext));
  return {
    chain: {
      chainId: chain.chainId.slice(),
      iteration: chain.iteration + 1,
      chainKey,
      signingKey: {
        publicKey: chain.signingKey.publicKey.slice(),
        secretKey: chain.signingKey.secretKey.slice(),
      },
    },
    message: concatBytes(head, ciphertext, signature),
  };
}

/**
 * Decrypts a message of the chain `state` follows. DecodeError for a malformed message;
 * ProtocolError when it belongs to another chain (the client routes by chain id);
 * VerificationError for a bad signature or tag; ReplayError when its iteration was already read
 * (or its key dropped as too old); QuotaError when it would skip more than MAX_SENDER_SKIP keys.
 * The state passed in is never changed.
 */
export function senderDecrypt(
  state: SenderReceiverState,
  message: Uint8Array,
  ad: Uint8Array,
): { state: SenderReceiverState; plaintext: Uint8Array } {
  checkReceiver(state, UsageError);
  if (!(ad instanceof Uint8Array)) throw new UsageError('associated data must be bytes');
  const m = decodeSenderMessage(message);
  if (!equalBytes(m.chainId, state.chainId)) throw new ProtocolError('message of another sender chain');
  const head = message.subarray(0, HEADER_BYTES);
  assertSignature(
    state.signingPublicKey,
    concatBytes(SIG_CONTEXT, head, m.ciphertext),
    m.signature,
    'sender message',
  );
  const decryptWith = (messageKey: Uint8Array): Uint8Array =>
    withMessageCipher(messageKey, (key, nonce) => open(key, nonce, m.ciphertext, concatBytes(ad, head)));
  const keep = (k: SenderSkippedKey): SenderSkippedKey => ({
    iteration: k.iteration,
    messageKey: k.messageKey.slice(),
  });
  const base = {
    group: state.group.slice(),
    chainId: state.chainId.slice(),
    signingPublicKey: state.signingPublicKey.slice(),
  };

  if (m.iteration < state.iteration) {
    // An earlier message that arrived late: its key must still be among the skipped ones.
    const found = state.skipped.find((k) => k.iteration === m.iteration);
    if (found === undefined)
      throw new ReplayError('sender message already decrypted, or its key was dropped');
    const plaintext = decryptWith(found.messageKey);
    return {
      state: {
        ...base,
        iteration: state.iteration,
        chainKey: state.chainKey.slice(),
        skipped: state.skipped.filter((k) => k !== found).map(keep),
      },
      plaintext,
    };
  }

  if (m.iteration - state.iteration > MAX_SENDER_SKIP) {
    throw new QuotaError(`sender message would skip more than ${MAX_SENDER_SKIP} message keys`);
  }
  // Walk the chain up to the message, keeping the keys of the messages skipped on the way.
  const fresh: SenderSkippedKey[] = [];
  let chainKey: Uint8Array = state.chainKey.slice();
  for (let i = state.iteration; i < m.iteration; i++) {
    const step = chainStep(chainKey);
    wipe(chainKey);
    chainKey = step.chainKey;
    fresh.push({ iteration: i, messageKey: step.messageKey });
  }
  const { chainKey: nextChainKey, messageKey } = chainStep(chainKey);
  wipe(chainKey);
  let plaintext: Uint8Array;
  try {
    plaintext = decryptWith(messageKey);
  } catch (error) {
    wipe(nextChainKey, ...fresh.map((k) => k.messageKey));
    throw error;
  } finally {
    wipe(messageKey);
  }
  const all = [...state.skipped.map(keep), ...fresh];
  const dropped = all.splice(0, Math.max(0, all.length - MAX_SENDER_SKIPPED));
  wipe(...dropped.map((k) => k.messageKey));
  return { state: { ...base, iteration: m.iteration + 1, chainKey: nextChainKey, skipped: all }, plaintext };
}

// ---- Codecs -------------------------------------------------------------------------------------

function exactKeys(m: CborMap, expected: readonly string[], what: string): void {
  const keys = Object.keys(m).sort();
  if (keys.length !== expected.length || keys.some((k, i) => k !== expected[i])) {
    throw new DecodeError(`${what} has missing or unknown fields`);
  }
}

function readVersion(m: CborMap, what: string): void {
  if (asUint(m.v, `${what} version`) !== VERSION) throw new DecodeError(`unknown ${what} version`);
}

const DISTRIBUTION_FIELDS = ['chain', 'ck', 'group', 'n', 'spk', 'v'];
export const MAX_SENDER_KEY_DISTRIBUTION_BYTES = 256;

/** CBOR {v: 1, group, chain, n, ck, spk}: sent inside a 1:1 session, which authenticates it. */
export function encodeSenderKeyDistribution(d: SenderKeyDistribution): Uint8Array {
  checkDistribution(d, UsageError);
  return encodeCbor({
    v: VERSION,
    group: d.group,
    chain: d.chainId,
    n: d.iteration,
    ck: d.chainKey,
    spk: d.signingPublicKey,
  });
}

export function decodeSenderKeyDistribution(bytes: Uint8Array): SenderKeyDistribution {
  const m = asMap(
    decodeCbor(bytes, { maxBytes: MAX_SENDER_KEY_DISTRIBUTION_BYTES, maxDepth: 1, maxItems: 8 }),
    'sender key distribution',
  );
  exactKeys(m, DISTRIBUTION_FIELDS, 'sender key distribution');
  readVersion(m, 'sender key distribution');
  return {
    group: asBytes(m.group, 'group id', { len: GROUP_ID_BYTES }),
    chainId: asBytes(m.chain, 'sender chain id', { len: SENDER_CHAIN_ID_BYTES }),
    iteration: asUint(m.n, 'sender chain iteration', U32_MAX),
    chainKey: asBytes(m.ck, 'sender chain key', { len: KEY_BYTES }),
    signingPublicKey: asBytes(m.spk, 'signing public key', { len: SIGN_PUBLIC_BYTES }),
  };
}

const CHAIN_FIELDS = ['chain', 'ck', 'n', 'seed', 'v'];

/** The own chain for the client's (encrypted) store: CBOR {v: 1, chain, n, ck, seed}. */
export function encodeSenderChain(chain: SenderChain): Uint8Array {
  checkChain(chain, UsageError);
  return encodeCbor({
    v: VERSION,
    chain: chain.chainId,
    n: chain.iteration,
    ck: chain.chainKey,
    seed: chain.signingKey.secretKey.subarray(0, SEED_BYTES),
  });
}

/** Reads encodeSenderChain's bytes; the signing key pair is rebuilt from its seed. */
export function decodeSenderChain(bytes: Uint8Array): SenderChain {
  const m = asMap(decodeCbor(bytes, { maxBytes: 256, maxDepth: 1, maxItems: 8 }), 'sender chain');
  exactKeys(m, CHAIN_FIELDS, 'sender chain');
  readVersion(m, 'sender chain');
  return {
    chainId: asBytes(m.chain, 'sender chain id', { len: SENDER_CHAIN_ID_BYTES }),
    iteration: asUint(m.n, 'sender chain iteration', U32_MAX),
    chainKey: asBytes(m.ck, 'sender chain key', { len: KEY_BYTES }),
    signingKey: signKeyPairFromSeed(asBytes(m.seed, 'signing key seed', { len: SEED_BYTES })),
  };
}

const RECEIVER_FIELDS = ['chain', 'ck', 'group', 'mks', 'n', 'spk', 'v'];

/** A receiver state for the client's (encrypted) store. */
export function encodeSenderReceiverState(state: SenderReceiverState): Uint8Array {
  checkReceiver(state, UsageError);
  return encodeCbor({
    v: VERSION,
    group: state.group,
    chain: state.chainId,
    n: state.iteration,
    ck: state.chainKey,
    spk: state.signingPublicKey,
    mks: state.skipped.map((k): CborValue => [k.iteration, k.messageKey]),
  });
}

/** Reads encodeSenderReceiverState's bytes; DecodeError for anything else. */
export function decodeSenderReceiverState(bytes: Uint8Array): SenderReceiverState {
  const m = asMap(
    decodeCbor(bytes, { maxBytes: 64 * 1024, maxDepth: 3, maxItems: MAX_SENDER_SKIPPED }),
    'sender receiver state',
  );
  exactKeys(m, RECEIVER_FIELDS, 'sender receiver state');
  readVersion(m, 'sender receiver state');
  const state: SenderReceiverState = {
    group: asBytes(m.group, 'group id', { len: GROUP_ID_BYTES }),
    chainId: asBytes(m.chain, 'sender chain id', { len: SENDER_CHAIN_ID_BYTES }),
    iteration: asUint(m.n, 'sender chain iteration', U32_MAX),
    chainKey: asBytes(m.ck, 'sender chain key', { len: KEY_BYTES }),
    signingPublicKey: asBytes(m.spk, 'signing public key', { len: SIGN_PUBLIC_BYTES }),
    skipped: asArray(m.mks, 'skipped keys', MAX_SENDER_SKIPPED).map((pair) => {
      const [iteration, messageKey, ...rest] = asArray(pair, 'skipped key');
      if (rest.length > 0) throw new DecodeError('skipped key has extra fields');
      return {
        iteration: asUint(iteration, 'skipped key iteration', U32_MAX),
        messageKey: asBytes(messageKey, 'skipped message key', { len: KEY_BYTES }),
      };
    }),
  };
  checkReceiver(state, DecodeError);
  return state;
}
