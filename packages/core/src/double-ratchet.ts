/**
 * The Double Ratchet with header encryption: Trevor Perrin and Moxie Marlinspike, "The
 * Double Ratchet Algorithm", revision 1 (2016), §3 (the algorithm) in the header-encryption
 * variant of §4. Comments cite the spec's sections and function names.
 *
 * Choices the spec leaves to the application (§5.2 recommends the first two):
 * - DH: X25519 (crypto.ts `dh`).
 * - KDF_RK_HE(rk, dh_out) = HKDF-SHA-256(ikm = dh_out, salt = rk, info = "parus-dr-root-v1"),
 *   96 bytes: new root key || chain key || next header key.
 * - KDF_CK(ck): message key = HMAC-SHA-256(ck, 0x01), next chain key = HMAC-SHA-256(ck, 0x02).
 * - ENCRYPT(mk, plaintext, ad): HKDF-SHA-256(ikm = mk, salt = 32 zero bytes,
 *   info = "parus-dr-message-v1") gives a 32-byte XChaCha20-Poly1305 key and a 24-byte
 *   nonce (each mk is used once, so a derived nonce is safe); AEAD with ad.
 * - HEADER = dh public key (32) || pn (u32 BE) || n (u32 BE); HENCRYPT(hk, header) =
 *   a random 24-byte nonce || XChaCha20-Poly1305(hk, nonce, header, ad = version byte).
 *   Header keys are reused across a chain, hence random nonces (§4.2, HENCRYPT).
 * - The body's AD is CONCAT(AD, enc_header) (§4.5, RatchetEncryptHE); enc_header has a fixed
 *   length, so the pair stays parseable as §3.1 (CONCAT) asks.
 * - Limits as libsignal's: at most RATCHET_MAX_FORWARD_JUMP keys skipped in one chain by one
 *   message (MAX_SKIP of §3.1), at most RATCHET_MAX_SKIPPED_KEYS stored (oldest dropped first).
 *
 * The functions are pure: they never change the state passed in. Each returns a new state
 * that shares no byte array with its input, so a caller may wipe an old state once it has
 * stored the new one. On any error the input state stays valid and unchanged, as §3.5
 * requires ("changes to the state object are discarded").
 */
import { concatBytes, equalBytes, toHex, u32be, utf8 } from './bytes.ts';
import { asArray, asBytes, asMap, asUint, decodeCbor, encodeCbor, type CborValue } from './cbor.ts';
import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  DH_BYTES,
  dh,
  dhKeyPairFromSecret,
  equalSecret,
  generateDhKeyPair,
  hash,
  hkdf,
  hmacSha256,
  open,
  seal,
  wipe,
  type DhKeyPair,
  type Random,
} from './crypto.ts';
import {
  DecodeError,
  InternalError,
  ProtocolError,
  QuotaError,
  ReplayError,
  UsageError,
  VerificationError,
} from './errors.ts';

/** Most message keys one incoming message may make us skip in one chain (libsignal's MAX_FORWARD_JUMPS). */
export const RATCHET_MAX_FORWARD_JUMP = 25_000;
/** Most skipped message keys a state keeps; the oldest go first (libsignal's MAX_MESSAGE_KEYS). */
export const RATCHET_MAX_SKIPPED_KEYS = 2_000;
/** Largest plaintext ratchetEncrypt takes: the largest padding bucket fits, under the relay's body limit. */
export const RATCHET_MAX_PLAINTEXT_BYTES = 160 * 1024;

const MESSAGE_VERSION = 1;
const KEY_BYTES = 32;
const HEADER_BYTES = DH_BYTES + 4 + 4;
/** nonce || header || tag */
export const RATCHET_ENCRYPTED_HEADER_BYTES = AEAD_NONCE_BYTES + HEADER_BYTES + AEAD_TAG_BYTES;
export const RATCHET_MIN_MESSAGE_BYTES = 1 + RATCHET_ENCRYPTED_HEADER_BYTES + AEAD_TAG_BYTES;
export const RATCHET_MAX_MESSAGE_BYTES = RATCHET_MIN_MESSAGE_BYTES + RATCHET_MAX_PLAINTEXT_BYTES;
const U32_MAX = 0xffffffff;

const ROOT_INFO = utf8('parus-dr-root-v1');
const MESSAGE_INFO = utf8('parus-dr-message-v1');
const MESSAGE_SALT = new Uint8Array(32);
const HEADER_AD = Uint8Array.of(MESSAGE_VERSION);
const CK_MESSAGE = Uint8Array.of(0x01);
const CK_CHAIN = Uint8Array.of(0x02);

/** Message keys skipped in one receiving chain, found by that chain's header key (MKSKIPPED, §4.3). */
export interface SkippedChain {
  readonly headerKey: Uint8Array;
  /** In increasing order of n. */
  readonly keys: ReadonlyArray<{ readonly n: number; readonly messageKey: Uint8Array }>;
}

/** The state of one Double Ratchet session (§3.2 and §4.3 state variables). Plain data. */
export interface RatchetState {
  /** DHs: our current ratchet key pair. */
  readonly dhSelf: DhKeyPair;
  /** DHr: the peer's current ratchet public key; null until the first message arrives (Bob). */
  readonly dhRemote: Uint8Array | null;
  /** RK */
  readonly rootKey: Uint8Array;
  /** CKs, CKr */
  readonly sendChainKey: Uint8Array | null;
  readonly recvChainKey: Uint8Array | null;
  /** HKs, HKr */
  readonly sendHeaderKey: Uint8Array | null;
  readonly recvHeaderKey: Uint8Array | null;
  /** NHKs, NHKr */
  readonly nextSendHeaderKey: Uint8Array;
  readonly nextRecvHeaderKey: Uint8Array;
  /** Ns, Nr, PN */
  readonly sendCount: number;
  readonly recvCount: number;
  readonly previousSendCount: number;
  /** MKSKIPPED, oldest chain first. */
  readonly skipped: readonly SkippedChain[];
}

/** A ratchet message on the wire: version byte || encrypted header (fixed size) || body. */
export interface RatchetMessage {
  /** HENCRYPT(HKs, header): nonce || ciphertext || tag, RATCHET_ENCRYPTED_HEADER_BYTES long. */
  header: Uint8Array;
  /** ENCRYPT(mk, plaintext, AD || header): ciphertext || tag. */
  body: Uint8Array;
}

interface Header {
  dh: Uint8Array;
  pn: number;
  n: number;
}

interface DraftChain {
  headerKey: Uint8Array;
  keys: Array<{ n: number; messageKey: Uint8Array }>;
}

/** A private, mutable deep copy of a state that a step works on. */
interface Draft {
  dhSelf: DhKeyPair;
  dhRemote: Uint8Array | null;
  rootKey: Uint8Array;
  sendChainKey: Uint8Array | null;
  recvChainKey: Uint8Array | null;
  sendHeaderKey: Uint8Array | null;
  recvHeaderKey: Uint8Array | null;
  nextSendHeaderKey: Uint8Array;
  nextRecvHeaderKey: Uint8Array;
  sendCount: number;
  recvCount: number;
  previousSendCount: number;
  skipped: DraftChain[];
}

// ---- Wire message --------------------------------------------------------------------

export function encodeRatchetMessage(message: RatchetMessage): Uint8Array {
  if (!(message.header instanceof Uint8Array) || message.header.length !== RATCHET_ENCRYPTED_HEADER_BYTES) {
    throw new UsageError(`ratchet header must be ${RATCHET_ENCRYPTED_HEADER_BYTES} bytes`);
  }
  if (
    !(message.body instanceof Uint8Array) ||
    message.body.length < AEAD_TAG_BYTES ||
    message.body.length > RATCHET_MAX_PLAINTEXT_BYTES + AEAD_TAG_BYTES
  ) {
    throw new UsageError('ratchet body has an impossible size');
  }
  return concatBytes(Uint8Array.of(MESSAGE_VERSION), message.header, message.body);
}

/** Splits a wire message; DecodeError for an unknown version or an impossible size. */
export function decodeRatchetMessage(bytes: Uint8Array): RatchetMessage {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('ratchet message must be bytes');
  if (bytes.length < RATCHET_MIN_MESSAGE_BYTES) throw new DecodeError('ratchet message too short');
  if (bytes.length > RATCHET_MAX_MESSAGE_BYTES) throw new DecodeError('ratchet message too long');
  if (bytes[0] !== MESSAGE_VERSION) throw new DecodeError('unknown ratchet message version');
  const headerEnd = 1 + RATCHET_ENCRYPTED_HEADER_BYTES;
  return { header: bytes.slice(1, headerEnd), body: bytes.slice(headerEnd) };
}

// ---- KDFs and ciphers (§3.1, §5.2) -------------------------------------------------------

/** KDF_RK_HE(rk, dh_out) of §4.2: new root key, chain key and next header key. */
function kdfRk(
  rootKey: Uint8Array,
  dhOut: Uint8Array,
): { rootKey: Uint8Array; chainKey: Uint8Array; headerKey: Uint8Array } {
  const okm = hkdf(dhOut, rootKey, ROOT_INFO, 3 * KEY_BYTES);
  const out = {
    rootKey: okm.slice(0, KEY_BYTES),
    chainKey: okm.slice(KEY_BYTES, 2 * KEY_BYTES),
    headerKey: okm.slice(2 * KEY_BYTES),
  };
  wipe(okm);
  return out;
}

/** KDF_CK(ck) of §3.1 with the HMAC constants of §5.2. */
function kdfCk(chainKey: Uint8Array): { chainKey: Uint8Array; messageKey: Uint8Array } {
  return { chainKey: hmacSha256(chainKey, CK_CHAIN), messageKey: hmacSha256(chainKey, CK_MESSAGE) };
}

function withMessageCipher<T>(messageKey: Uint8Array, use: (key: Uint8Array, nonce: Uint8Array) => T): T {
  const okm = hkdf(messageKey, MESSAGE_SALT, MESSAGE_INFO, AEAD_KEY_BYTES + AEAD_NONCE_BYTES);
  const key = okm.subarray(0, AEAD_KEY_BYTES);
  const nonce = okm.subarray(AEAD_KEY_BYTES);
  try {
    return use(key, nonce);
  } finally {
    wipe(okm);
  }
}

/** ENCRYPT(mk, plaintext, associated_data) of §3.1. */
function encryptBody(messageKey: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return withMessageCipher(messageKey, (key, nonce) => seal(key, nonce, plaintext, ad));
}

/** DECRYPT(mk, ciphertext, associated_data) of §3.1; VerificationError when the tag fails. */
function decryptBody(messageKey: Uint8Array, body: Uint8Array, ad: Uint8Array): Uint8Array {
  return withMessageCipher(messageKey, (key, nonce) => open(key, nonce, body, ad));
}

/** HEADER(dh_pair, pn, n) of §3.1. */
function encodeHeader(dhPublic: Uint8Array, pn: number, n: number): Uint8Array {
  return concatBytes(dhPublic, u32be(pn), u32be(n));
}

/** HENCRYPT(hk, plaintext) of §4.2, with a random 192-bit nonce. */
function encryptHeader(headerKey: Uint8Array, header: Uint8Array, rng: Random): Uint8Array {
  const nonce = rng.bytes(AEAD_NONCE_BYTES);
  return concatBytes(nonce, seal(headerKey, nonce, header, HEADER_AD));
}

/** HDECRYPT(hk, ciphertext) of §4.2: the header, or null when hk is not the key it was sealed with. */
function decryptHeader(headerKey: Uint8Array, encrypted: Uint8Array): Header | null {
  let plain: Uint8Array;
  try {
    plain = open(
      headerKey,
      encrypted.subarray(0, AEAD_NONCE_BYTES),
      encrypted.subarray(AEAD_NONCE_BYTES),
      HEADER_AD,
    );
  } catch (error) {
    if (error instanceof VerificationError) return null;
    throw error;
  }
  if (plain.length !== HEADER_BYTES) return null;
  const view = new DataView(plain.buffer, plain.byteOffset, plain.byteLength);
  return { dh: plain.slice(0, DH_BYTES), pn: view.getUint32(DH_BYTES), n: view.getUint32(DH_BYTES + 4) };
}

// ---- State copies ----------------------------------------------------------------------

const copy = (b: Uint8Array): Uint8Array => b.slice();
const copyOrNull = (b: Uint8Array | null): Uint8Array | null => (b === null ? null : b.slice());

function draftOf(s: RatchetState): Draft {
  return {
    dhSelf: { publicKey: copy(s.dhSelf.publicKey), secretKey: copy(s.dhSelf.secretKey) },
    dhRemote: copyOrNull(s.dhRemote),
    rootKey: copy(s.rootKey),
    sendChainKey: copyOrNull(s.sendChainKey),
    recvChainKey: copyOrNull(s.recvChainKey),
    sendHeaderKey: copyOrNull(s.sendHeaderKey),
    recvHeaderKey: copyOrNull(s.recvHeaderKey),
    nextSendHeaderKey: copy(s.nextSendHeaderKey),
    nextRecvHeaderKey: copy(s.nextRecvHeaderKey),
    sendCount: s.sendCount,
    recvCount: s.recvCount,
    previousSendCount: s.previousSendCount,
    skipped: s.skipped.map((chain) => ({
      headerKey: copy(chain.headerKey),
      keys: chain.keys.map((k) => ({ n: k.n, messageKey: copy(k.messageKey) })),
    })),
  };
}

/** Wipes a draft that is being thrown away (all its arrays are its own copies). */
function wipeDraft(d: Draft): void {
  wipe(d.dhSelf.secretKey, d.rootKey, d.sendChainKey ?? undefined, d.recvChainKey ?? undefined);
  wipe(d.sendHeaderKey ?? undefined, d.recvHeaderKey ?? undefined, d.nextSendHeaderKey, d.nextRecvHeaderKey);
  for (const chain of d.skipped) {
    wipe(chain.headerKey);
    for (const k of chain.keys) wipe(k.messageKey);
  }
}

/** Runs one step on a private copy: returns the copy on success, wipes it on any error. */
function step<T>(state: RatchetState, run: (d: Draft) => T): { state: RatchetState; result: T } {
  checkState(state, UsageError);
  const d = draftOf(state);
  try {
    return { result: run(d), state: d };
  } catch (error) {
    wipeDraft(d);
    throw error;
  }
}

// ---- Initialisation (§3.3 and §4.4) -------------------------------------------------------

function assertKey(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== KEY_BYTES)
    throw new UsageError(`${what} must be ${KEY_BYTES} bytes`);
}

/**
 * RatchetInitAliceHE(state, SK, bob_dh_public_key, shared_hka, shared_nhkb) of §4.4: the
 * party that sends first. VerificationError when the peer's ratchet key is of low order.
 */
export function initRatchetSender(opts: {
  sharedSecret: Uint8Array;
  peerRatchetKey: Uint8Array;
  sharedHeaderKey: Uint8Array;
  nextHeaderKey: Uint8Array;
  rng: Random;
}): RatchetState {
  assertKey(opts.sharedSecret, 'shared secret');
  assertKey(opts.peerRatchetKey, 'peer ratchet key');
  assertKey(opts.sharedHeaderKey, 'shared header key');
  assertKey(opts.nextHeaderKey, 'next header key');
  const dhSelf = generateDhKeyPair(opts.rng);
  const dhOut = dh(dhSelf.secretKey, opts.peerRatchetKey);
  const derived = kdfRk(opts.sharedSecret, dhOut);
  wipe(dhOut);
  return {
    dhSelf,
    dhRemote: copy(opts.peerRatchetKey),
    rootKey: derived.rootKey,
    sendChainKey: derived.chainKey,
    recvChainKey: null,
    sendHeaderKey: copy(opts.sharedHeaderKey),
    recvHeaderKey: null,
    nextSendHeaderKey: derived.headerKey,
    nextRecvHeaderKey: copy(opts.nextHeaderKey),
    sendCount: 0,
    recvCount: 0,
    previousSendCount: 0,
    skipped: [],
  };
}

/**
 * RatchetInitBobHE(state, SK, bob_dh_key_pair, shared_hka, shared_nhkb) of §4.4: the party
 * that receives first. It cannot send until a message has arrived (ratchetEncrypt throws
 * ProtocolError until then).
 */
export function initRatchetReceiver(opts: {
  sharedSecret: Uint8Array;
  ownRatchetKeyPair: DhKeyPair;
  sharedHeaderKey: Uint8Array;
  nextHeaderKey: Uint8Array;
}): RatchetState {
  assertKey(opts.sharedSecret, 'shared secret');
  assertKey(opts.ownRatchetKeyPair?.secretKey, 'own ratchet secret key');
  assertKey(opts.ownRatchetKeyPair.publicKey, 'own ratchet public key');
  assertKey(opts.sharedHeaderKey, 'shared header key');
  assertKey(opts.nextHeaderKey, 'next header key');
  const secretKey = copy(opts.ownRatchetKeyPair.secretKey);
  const dhSelf = dhKeyPairFromSecret(secretKey);
  if (!equalBytes(dhSelf.publicKey, opts.ownRatchetKeyPair.publicKey)) {
    wipe(secretKey);
    throw new UsageError('own ratchet public key does not belong to its secret key');
  }
  return {
    dhSelf,
    dhRemote: null,
    rootKey: copy(opts.sharedSecret),
    sendChainKey: null,
    recvChainKey: null,
    sendHeaderKey: null,
    recvHeaderKey: null,
    nextSendHeaderKey: copy(opts.nextHeaderKey),
    nextRecvHeaderKey: copy(opts.sharedHeaderKey),
    sendCount: 0,
    recvCount: 0,
    previousSendCount: 0,
    skipped: [],
  };
}

// ---- Encrypt (§4.5 RatchetEncryptHE) -------------------------------------------------------

export function ratchetEncrypt(
  state: RatchetState,
  plaintext: Uint8Array,
  ad: Uint8Array,
  rng: Random,
): { state: RatchetState; message: Uint8Array } {
  if (!(plaintext instanceof Uint8Array)) throw new UsageError('plaintext must be bytes');
  if (plaintext.length > RATCHET_MAX_PLAINTEXT_BYTES) {
    throw new UsageError(`plaintext longer than ${RATCHET_MAX_PLAINTEXT_BYTES} bytes`);
  }
  if (!(ad instanceof Uint8Array)) throw new UsageError('associated data must be bytes');
  const { state: next, result } = step(state, (d) => {
    if (d.sendChainKey === null || d.sendHeaderKey === null) {
      // §3.3/§4.4: Bob has no sending chain until Alice's first message gives him one.
      throw new ProtocolError('cannot send on this ratchet before a message has been received');
    }
    if (d.sendCount >= U32_MAX) throw new QuotaError('sending chain exhausted');
    // CKs, mk = KDF_CK(CKs)
    const { chainKey, messageKey } = kdfCk(d.sendChainKey);
    wipe(d.sendChainKey);
    d.sendChainKey = chainKey;
    // header = HEADER(DHs, PN, Ns); enc_header = HENCRYPT(HKs, header); Ns += 1
    const encryptedHeader = encryptHeader(
      d.sendHeaderKey,
      encodeHeader(d.dhSelf.publicKey, d.previousSendCount, d.sendCount),
      rng,
    );
    d.sendCount += 1;
    // ENCRYPT(mk, plaintext, CONCAT(AD, enc_header))
    try {
      const body = encryptBody(messageKey, plaintext, concatBytes(ad, encryptedHeader));
      return encodeRatchetMessage({ header: encryptedHeader, body });
    } finally {
      wipe(messageKey);
    }
  });
  return { state: next, message: result };
}

// ---- Decrypt (§4.6 RatchetDecryptHE) -------------------------------------------------------

/**
 * Decrypts `message`. `stepped` says whether it carried a new ratchet key of the peer, so that
 * this call did a DH ratchet step (§3.5): the caller notes the time for ratchetRefreshDue.
 */
export function ratchetDecrypt(
  state: RatchetState,
  message: Uint8Array,
  ad: Uint8Array,
  rng: Random,
): { state: RatchetState; plaintext: Uint8Array; stepped: boolean } {
  if (!(ad instanceof Uint8Array)) throw new UsageError('associated data must be bytes');
  const { header: encryptedHeader, body } = decodeRatchetMessage(message);
  const bodyAd = concatBytes(ad, encryptedHeader);
  const { state: next, result } = step(state, (d) => {
    // TrySkippedMessageKeysHE (§4.6): a key kept for a message that arrived out of order.
    let current: Header | null = null;
    for (let i = 0; i < d.skipped.length; i++) {
      const chain = d.skipped[i]!;
      const header = decryptHeader(chain.headerKey, encryptedHeader);
      if (header === null) continue;
      const index = chain.keys.findIndex((k) => k.n === header.n);
      if (index >= 0) {
        const messageKey = chain.keys[index]!.messageKey;
        const plaintext = decryptBody(messageKey, body, bodyAd);
        chain.keys.splice(index, 1);
        wipe(messageKey);
        if (chain.keys.length === 0) {
          wipe(chain.headerKey);
          d.skipped.splice(i, 1);
        }
        return plaintext;
      }
      if (d.recvHeaderKey !== null && equalSecret(chain.headerKey, d.recvHeaderKey)) {
        current = header; // the current receiving chain: carry on below
        break;
      }
      // An older chain, and no key for this n: it was used already (or dropped as too old).
      throw new ReplayError('ratchet message already decrypted, or its key was dropped');
    }

    // DecryptHeader (§4.6): under HKr a message of the current chain, under NHKr a new chain.
    let header =
      current ?? (d.recvHeaderKey === null ? null : decryptHeader(d.recvHeaderKey, encryptedHeader));
    if (header !== null) {
      if (d.dhRemote === null || !equalBytes(header.dh, d.dhRemote)) {
        throw new VerificationError('ratchet header names another ratchet key than its chain');
      }
      // Below Nr without a skipped key: this message was decrypted before.
      if (header.n < d.recvCount) throw new ReplayError('ratchet message already decrypted');
    } else {
      header = decryptHeader(d.nextRecvHeaderKey, encryptedHeader);
      if (header === null)
        throw new VerificationError('ratchet header does not decrypt under any receiving key');
      skipMessageKeys(d, header.pn);
      dhRatchet(d, header, rng);
    }
    skipMessageKeys(d, header.n);
    // CKr, mk = KDF_CK(CKr); Nr += 1
    if (d.recvChainKey === null) throw new InternalError('receiving chain missing after the header check');
    const { chainKey, messageKey } = kdfCk(d.recvChainKey);
    wipe(d.recvChainKey);
    d.recvChainKey = chainKey;
    d.recvCount += 1;
    try {
      return decryptBody(messageKey, body, bodyAd);
    } finally {
      wipe(messageKey);
    }
  });
  const stepped =
    next.dhRemote !== null && (state.dhRemote === null || !equalBytes(next.dhRemote, state.dhRemote));
  return { state: next, plaintext: result, stepped };
}

// ---- Refreshing an idle or one-way session (docs/decisions/0026) ---------------------------

/**
 * When a session is due for a new DH ratchet step. A sender cannot step alone (§3.5: the new
 * root key needs the peer's next ratchet key), so the application asks the peer to reply.
 */
export interface RatchetRefreshPolicy {
  /** Most time since this side's last DH step (or the session's start). */
  readonly maxAgeMs: number;
  /** Most messages sent on one sending chain, that is, with no new ratchet key from the peer. */
  readonly maxOneWay: number;
}

export const RATCHET_REFRESH_POLICY: RatchetRefreshPolicy = {
  maxAgeMs: 7 * 24 * 60 * 60 * 1000,
  maxOneWay: 100,
};

/**
 * Whether the session should be refreshed now: it can send, and either `policy.maxOneWay`
 * messages went on the current sending chain, or `lastStepAt` (when this side last did a DH
 * step, kept by the caller: the core has no clock) is `policy.maxAgeMs` before `now`.
 */
export function ratchetRefreshDue(
  state: RatchetState,
  opts: { now: number; lastStepAt: number; policy?: RatchetRefreshPolicy },
): boolean {
  const policy = opts.policy ?? RATCHET_REFRESH_POLICY;
  if (!Number.isFinite(opts.now) || !Number.isFinite(opts.lastStepAt))
    throw new UsageError('refresh times must be numbers');
  if (state.sendChainKey === null) return false;
  return state.sendCount >= policy.maxOneWay || opts.now - opts.lastStepAt >= policy.maxAgeMs;
}

/** SkipMessageKeysHE(state, until) of §4.6, with MAX_SKIP = RATCHET_MAX_FORWARD_JUMP. */
function skipMessageKeys(d: Draft, until: number): void {
  if (d.recvCount + RATCHET_MAX_FORWARD_JUMP < until) {
    throw new QuotaError(`ratchet message would skip more than ${RATCHET_MAX_FORWARD_JUMP} message keys`);
  }
  if (d.recvChainKey === null || d.recvCount >= until) return;
  const headerKey = d.recvHeaderKey;
  if (headerKey === null) throw new InternalError('receiving chain without its header key');
  let chain = d.skipped[d.skipped.length - 1];
  if (chain === undefined || !equalSecret(chain.headerKey, headerKey)) {
    chain = { headerKey: copy(headerKey), keys: [] };
    d.skipped.push(chain);
  }
  while (d.recvCount < until) {
    const { chainKey, messageKey } = kdfCk(d.recvChainKey);
    wipe(d.recvChainKey);
    d.recvChainKey = chainKey;
    chain.keys.push({ n: d.recvCount, messageKey });
    d.recvCount += 1;
  }
  dropOldestSkippedKeys(d);
}

/** Keeps at most RATCHET_MAX_SKIPPED_KEYS skipped keys, dropping the oldest first. */
function dropOldestSkippedKeys(d: Draft): void {
  let excess = d.skipped.reduce((sum, chain) => sum + chain.keys.length, 0) - RATCHET_MAX_SKIPPED_KEYS;
  while (excess > 0) {
    const chain = d.skipped[0]!;
    const drop = Math.min(excess, chain.keys.length);
    for (const k of chain.keys.splice(0, drop)) wipe(k.messageKey);
    excess -= drop;
    if (chain.keys.length === 0) {
      wipe(chain.headerKey);
      d.skipped.shift();
    }
  }
}

/** DHRatchetHE(state, header) of §4.6. */
function dhRatchet(d: Draft, header: Header, rng: Random): void {
  d.previousSendCount = d.sendCount;
  d.sendCount = 0;
  d.recvCount = 0;
  wipe(d.sendHeaderKey ?? undefined, d.recvHeaderKey ?? undefined);
  d.sendHeaderKey = d.nextSendHeaderKey;
  d.recvHeaderKey = d.nextRecvHeaderKey;
  d.dhRemote = header.dh;
  // RK, CKr, NHKr = KDF_RK_HE(RK, DH(DHs, DHr))
  const receiveOut = dh(d.dhSelf.secretKey, d.dhRemote);
  const receiving = kdfRk(d.rootKey, receiveOut);
  wipe(receiveOut, d.rootKey, d.recvChainKey ?? undefined);
  d.rootKey = receiving.rootKey;
  d.recvChainKey = receiving.chainKey;
  d.nextRecvHeaderKey = receiving.headerKey;
  // DHs = GENERATE_DH(); RK, CKs, NHKs = KDF_RK_HE(RK, DH(DHs, DHr))
  wipe(d.dhSelf.secretKey);
  d.dhSelf = generateDhKeyPair(rng);
  const sendOut = dh(d.dhSelf.secretKey, d.dhRemote);
  const sending = kdfRk(d.rootKey, sendOut);
  wipe(sendOut, d.rootKey, d.sendChainKey ?? undefined);
  d.rootKey = sending.rootKey;
  d.sendChainKey = sending.chainKey;
  d.nextSendHeaderKey = sending.headerKey;
}

// ---- State codec ------------------------------------------------------------------------

const STATE_VERSION = 1;
const STATE_FIELDS = [
  'ckr',
  'cks',
  'dhp',
  'dhr',
  'dhs',
  'hkr',
  'hks',
  'mks',
  'nhkr',
  'nhks',
  'nr',
  'ns',
  'pn',
  'rk',
];
const STATE_CHECK_BYTES = 16;
const STATE_LIMITS = { maxBytes: 512 * 1024, maxDepth: 6, maxItems: RATCHET_MAX_SKIPPED_KEYS + 16 };

type ErrorClass = new (message: string) => Error;

/**
 * Checks the shape and the invariants of a state; throws `fail` naming what is wrong. With
 * `keyPair`, also that the own ratchet public key is the one of its secret key (a scalar
 * multiplication, so only for states read from storage).
 */
function checkState(s: RatchetState, fail: ErrorClass, keyPair = false): void {
  const key = (v: unknown, what: string, nullable = false): void => {
    if (nullable && v === null) return;
    if (!(v instanceof Uint8Array) || v.length !== KEY_BYTES)
      throw new fail(`ratchet state: ${what} must be ${KEY_BYTES} bytes`);
  };
  const counter = (v: unknown, what: string): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > U32_MAX) {
      throw new fail(`ratchet state: ${what} must be a 32-bit counter`);
    }
  };
  if (s === null || typeof s !== 'object' || s.dhSelf === null || typeof s.dhSelf !== 'object') {
    throw new fail('ratchet state must be an object');
  }
  key(s.dhSelf.secretKey, 'own ratchet secret key');
  key(s.dhSelf.publicKey, 'own ratchet public key');
  key(s.dhRemote, 'peer ratchet key', true);
  key(s.rootKey, 'root key');
  key(s.sendChainKey, 'sending chain key', true);
  key(s.recvChainKey, 'receiving chain key', true);
  key(s.sendHeaderKey, 'sending header key', true);
  key(s.recvHeaderKey, 'receiving header key', true);
  key(s.nextSendHeaderKey, 'next sending header key');
  key(s.nextRecvHeaderKey, 'next receiving header key');
  counter(s.sendCount, 'Ns');
  counter(s.recvCount, 'Nr');
  counter(s.previousSendCount, 'PN');
  // A chain key exists exactly when its header key does, and only once the peer's key is known.
  if ((s.sendChainKey === null) !== (s.sendHeaderKey === null))
    throw new fail('ratchet state: sending chain incomplete');
  if ((s.recvChainKey === null) !== (s.recvHeaderKey === null))
    throw new fail('ratchet state: receiving chain incomplete');
  if (s.dhRemote === null && (s.sendChainKey !== null || s.recvChainKey !== null)) {
    throw new fail('ratchet state: chains without a peer ratchet key');
  }
  if (s.sendChainKey === null && (s.sendCount !== 0 || s.previousSendCount !== 0)) {
    throw new fail('ratchet state: counters without a sending chain');
  }
  if (s.recvChainKey === null && s.recvCount !== 0)
    throw new fail('ratchet state: counter without a receiving chain');
  if (!Array.isArray(s.skipped)) throw new fail('ratchet state: skipped keys must be a list');
  const seen = new Set<string>();
  let total = 0;
  for (const chain of s.skipped) {
    if (chain === null || typeof chain !== 'object' || !Array.isArray(chain.keys)) {
      throw new fail('ratchet state: malformed skipped chain');
    }
    key(chain.headerKey, 'skipped chain header key');
    const id = toHex(chain.headerKey);
    if (seen.has(id)) throw new fail('ratchet state: skipped chain listed twice');
    seen.add(id);
    if (chain.keys.length === 0) throw new fail('ratchet state: empty skipped chain');
    let previous = -1;
    for (const k of chain.keys) {
      if (k === null || typeof k !== 'object') throw new fail('ratchet state: malformed skipped key');
      counter(k.n, 'skipped key number');
      if (k.n <= previous) throw new fail('ratchet state: skipped keys out of order');
      previous = k.n;
      key(k.messageKey, 'skipped message key');
    }
    total += chain.keys.length;
  }
  if (total > RATCHET_MAX_SKIPPED_KEYS)
    throw new fail(`ratchet state: more than ${RATCHET_MAX_SKIPPED_KEYS} skipped keys`);
  if (keyPair && !equalBytes(dhKeyPairFromSecret(s.dhSelf.secretKey.slice()).publicKey, s.dhSelf.publicKey)) {
    throw new fail('ratchet state: own ratchet public key does not match its secret key');
  }
}

/**
 * The state as bytes for the client's store: CBOR {v, state, check}, where `state` is the
 * canonical CBOR of the fields and `check` its BLAKE2b-128, so that a corrupted record is
 * refused instead of silently breaking the session. The store must encrypt it (it holds keys).
 */
export function encodeRatchetState(state: RatchetState): Uint8Array {
  checkState(state, UsageError);
  const inner = encodeCbor({
    dhs: state.dhSelf.secretKey,
    dhp: state.dhSelf.publicKey,
    dhr: state.dhRemote,
    rk: state.rootKey,
    cks: state.sendChainKey,
    ckr: state.recvChainKey,
    hks: state.sendHeaderKey,
    hkr: state.recvHeaderKey,
    nhks: state.nextSendHeaderKey,
    nhkr: state.nextRecvHeaderKey,
    ns: state.sendCount,
    nr: state.recvCount,
    pn: state.previousSendCount,
    mks: state.skipped.map(
      (chain): CborValue => [chain.headerKey, chain.keys.map((k): CborValue => [k.n, k.messageKey])],
    ),
  });
  const out = encodeCbor({ v: STATE_VERSION, state: inner, check: hash(inner, STATE_CHECK_BYTES) });
  wipe(inner);
  return out;
}

/** Reads bytes written by encodeRatchetState; DecodeError for anything else. */
export function decodeRatchetState(bytes: Uint8Array): RatchetState {
  const outer = asMap(
    decodeCbor(bytes, { maxBytes: STATE_LIMITS.maxBytes + 64, maxDepth: 1, maxItems: 3 }),
    'ratchet record',
  );
  exactKeys(outer, ['check', 'state', 'v'], 'ratchet record');
  if (asUint(outer.v, 'ratchet record version') !== STATE_VERSION)
    throw new DecodeError('unknown ratchet state version');
  const inner = asBytes(outer.state, 'ratchet state', { max: STATE_LIMITS.maxBytes });
  const check = asBytes(outer.check, 'ratchet state check', { len: STATE_CHECK_BYTES });
  if (!equalBytes(hash(inner, STATE_CHECK_BYTES), check)) throw new DecodeError('ratchet state is corrupted');
  const m = asMap(decodeCbor(inner, STATE_LIMITS), 'ratchet state');
  exactKeys(m, STATE_FIELDS, 'ratchet state');
  const key = (v: CborValue | undefined, what: string): Uint8Array => asBytes(v, what, { len: KEY_BYTES });
  const keyOrNull = (v: CborValue | undefined, what: string): Uint8Array | null =>
    v === null ? null : key(v, what);
  const skipped = asArray(m.mks, 'skipped chains', RATCHET_MAX_SKIPPED_KEYS).map((entry): SkippedChain => {
    const [headerKey, keys, ...rest] = asArray(entry, 'skipped chain');
    if (rest.length > 0) throw new DecodeError('skipped chain has extra fields');
    return {
      headerKey: key(headerKey, 'skipped chain header key'),
      keys: asArray(keys, 'skipped keys', RATCHET_MAX_SKIPPED_KEYS).map((pair) => {
        const [n, messageKey, ...more] = asArray(pair, 'skipped key');
        if (more.length > 0) throw new DecodeError('skipped key has extra fields');
        return {
          n: asUint(n, 'skipped key number', U32_MAX),
          messageKey: key(messageKey, 'skipped message key'),
        };
      }),
    };
  });
  const state: RatchetState = {
    dhSelf: {
      secretKey: key(m.dhs, 'own ratchet secret key'),
      publicKey: key(m.dhp, 'own ratchet public key'),
    },
    dhRemote: keyOrNull(m.dhr, 'peer ratchet key'),
    rootKey: key(m.rk, 'root key'),
    sendChainKey: keyOrNull(m.cks, 'sending chain key'),
    recvChainKey: keyOrNull(m.ckr, 'receiving chain key'),
    sendHeaderKey: keyOrNull(m.hks, 'sending header key'),
    recvHeaderKey: keyOrNull(m.hkr, 'receiving header key'),
    nextSendHeaderKey: key(m.nhks, 'next sending header key'),
    nextRecvHeaderKey: key(m.nhkr, 'next receiving header key'),
    sendCount: asUint(m.ns, 'Ns', U32_MAX),
    recvCount: asUint(m.nr, 'Nr', U32_MAX),
    previousSendCount: asUint(m.pn, 'PN', U32_MAX),
    skipped,
  };
  checkState(state, DecodeError, true);
  return state;
}

function exactKeys(map: Record<string, unknown>, expected: readonly string[], what: string): void {
  const keys = Object.keys(map).sort();
  if (keys.length !== expected.length || keys.some((k, i) => k !== expected[i])) {
    throw new DecodeError(`${what} has missing or unknown fields`);
  }
}
