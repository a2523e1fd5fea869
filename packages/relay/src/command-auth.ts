/**
 * The relay's side of command authenticators (relay-protocol.ts, docs/decisions/0005):
 * a fresh X25519 key pair for one connection, whose public half goes out in `welcome`,
 * and the MAC key K of every queue key seen on the connection, derived once (one X25519
 * and one HKDF) and then reused, so each command costs one HMAC-SHA-256.
 *
 * The HMAC runs over the frame as received (core commandAuthPieces: its bytes without the
 * `auth` entry), not over the frame encoded again, on libsodium's native SHA-256
 * (sodium-native, as the delivery seal: docs/decisions/0020, 0034). HMAC (RFC 2104) hashes
 * K ⊕ ipad and K ⊕ opad ahead of the message; both, and the part of every message that is
 * the same on the connection (core commandAuthPrefix: context and session nonce), are hashed
 * once per K and kept as SHA-256 states, so a command costs the hashing of its own bytes.
 *
 * The cache is bounded: a connection may hold up to `maxSubscriptionsPerConnection`
 * queues, and it uses a recipient key for each and a sender key for each queue it sends
 * to, so the relay keeps twice that (plus a little); past it the least recently used K
 * goes, and is recomputed if its key comes back. Every K and its states are wiped when they
 * leave the cache and when the connection closes, with the connection's secret.
 */
import sodium from 'sodium-native';
import {
  AuthError,
  COMMAND_AUTH_BYTES,
  checkCommandAuth,
  commandAuthPieces,
  commandAuthPrefix,
  deriveCommandAuthKey,
  generateDhKeyPair,
  toHex,
  wipe,
} from '@parus/core';
import type { AuthenticatedCommand, Random } from '@parus/core';

const KEY_BYTES = 32;
const STATE_BYTES = sodium.crypto_hash_sha256_STATEBYTES;
/** SHA-256's block: HMAC pads K to it. */
const BLOCK_BYTES = 64;
/** A cached key: K ‖ inner state (K ⊕ ipad, then the prefix) ‖ outer state (K ⊕ opad). */
const INNER_AT = KEY_BYTES;
const OUTER_AT = KEY_BYTES + STATE_BYTES;
const ENTRY_BYTES = KEY_BYTES + 2 * STATE_BYTES;
/** Frames up to this size are hashed from one copy of their pieces; larger ones piece by piece. */
const SCRATCH_BYTES = 4096;

/**
 * The working buffers of a check, shared by every connection: a check runs start to end
 * without yielding, so one set serves them all (per connection they were 4.3 KiB of the
 * 16 KiB an idle connection may cost, docs/decisions/0042). The state is wiped after each
 * check; the digest is what the client sent when the check passes.
 */
const sharedState = new Uint8Array(STATE_BYTES);
const sharedDigest = new Uint8Array(KEY_BYTES);
const sharedScratch = new Uint8Array(SCRATCH_BYTES);

/**
 * The hex of client keys seen, by array, for every connection: the relay passes the same
 * arrays (cached queue records), and an entry goes with its array.
 */
const hexOf = new WeakMap<Uint8Array, string>();

export class CommandAuth {
  /** The relay's X25519 public key for this connection (`dh` in `welcome`). */
  readonly publicKey: Uint8Array;
  private readonly secretKey: Uint8Array;
  /** Each client public key's entry (K and its HMAC states), by key (hex), least recently used first. */
  private readonly keys = new Map<string, Uint8Array>();
  private readonly prefix: Uint8Array;
  private closed = false;

  constructor(
    rng: Random,
    /** The connection's session nonce, which every K and every authenticator covers. */
    readonly session: Uint8Array,
    private readonly maxKeys: number,
  ) {
    const pair = generateDhKeyPair(rng);
    this.publicKey = pair.publicKey;
    this.secretKey = pair.secretKey;
    this.prefix = commandAuthPrefix(session);
  }

  /** How many keys K are cached (for tests). */
  get size(): number {
    return this.keys.size;
  }

  /**
   * Throws AuthError unless `auth` authenticates `frame` under `clientKey` on this
   * connection; VerificationError (from X25519) when `clientKey` is a low-order point.
   * `received` is the frame as it came off the wire (decodeClientFrame accepted it and gave
   * `frame`): the authenticator is checked over it. Without it, over `frame` encoded again.
   */
  check(
    clientKey: Uint8Array,
    frame: AuthenticatedCommand,
    auth: Uint8Array | undefined,
    received?: Uint8Array,
  ): void {
    if (!auth) throw new AuthError(`${frame.t} must be authenticated`);
    const entry = this.entryFor(clientKey);
    let good: boolean;
    if (received) {
      const pieces = commandAuthPieces(received);
      good = pieces !== undefined && this.macMatches(entry, pieces, auth);
    } else good = checkCommandAuth(entry.subarray(0, KEY_BYTES), this.session, frame, auth);
    if (!good) {
      // A wrong key and a frame authenticated for another connection look alike here.
      throw new AuthError(`${frame.t} is not authenticated by the key that owns the queue`);
    }
  }

  /**
   * Whether `prove(K)` holds for K of `clientKey` on this connection: for proofs other than
   * a command's own authenticator (a fan-out entry, fanout.ts). VerificationError for a
   * low-order key, as in check().
   */
  proves(clientKey: Uint8Array, prove: (key: Uint8Array) => boolean): boolean {
    return prove(this.entryFor(clientKey).subarray(0, KEY_BYTES));
  }

  /** The connection is gone: forget every key. Later checks fail. */
  close(): void {
    this.closed = true;
    for (const entry of this.keys.values()) wipe(entry);
    this.keys.clear();
    wipe(this.secretKey);
  }

  /** HMAC-SHA-256 (RFC 2104) of prefix ‖ pieces under the entry's K, compared in constant time with `auth`. */
  private macMatches(entry: Uint8Array, pieces: readonly Uint8Array[], auth: Uint8Array): boolean {
    if (auth.length !== COMMAND_AUTH_BYTES) return false;
    const state = sharedState;
    const digest = sharedDigest;
    const scratch = sharedScratch;
    state.set(entry.subarray(INNER_AT, OUTER_AT));
    let total = 0;
    for (const piece of pieces) total += piece.length;
    if (total <= SCRATCH_BYTES) {
      let at = 0;
      for (const piece of pieces) {
        scratch.set(piece, at);
        at += piece.length;
      }
      sodium.crypto_hash_sha256_update(state, scratch.subarray(0, total));
    } else {
      for (const piece of pieces) sodium.crypto_hash_sha256_update(state, piece);
    }
    sodium.crypto_hash_sha256_final(state, digest);
    state.set(entry.subarray(OUTER_AT));
    sodium.crypto_hash_sha256_update(state, digest);
    sodium.crypto_hash_sha256_final(state, digest);
    state.fill(0);
    return sodium.sodium_memcmp(digest, auth);
  }

  private entryFor(clientKey: Uint8Array): Uint8Array {
    if (this.closed) throw new AuthError('connection closed');
    let id = hexOf.get(clientKey);
    if (id === undefined) {
      id = toHex(clientKey);
      hexOf.set(clientKey, id);
    }
    const cached = this.keys.get(id);
    if (cached) {
      // Most recently used goes last, so eviction takes the key unused the longest.
      this.keys.delete(id);
      this.keys.set(id, cached);
      return cached;
    }
    const key = deriveCommandAuthKey(this.secretKey, clientKey, this.session, clientKey);
    const entry = this.entryOf(key);
    wipe(key);
    if (this.keys.size >= this.maxKeys) {
      const oldest = this.keys.keys().next().value;
      if (oldest !== undefined) {
        wipe(this.keys.get(oldest));
        this.keys.delete(oldest);
      }
    }
    this.keys.set(id, entry);
    return entry;
  }

  /** K and its two HMAC states: K ⊕ ipad and the prefix hashed, K ⊕ opad hashed. */
  private entryOf(key: Uint8Array): Uint8Array {
    const entry = new Uint8Array(ENTRY_BYTES);
    entry.set(key, 0);
    const pad = new Uint8Array(BLOCK_BYTES);
    const inner = entry.subarray(INNER_AT, OUTER_AT);
    pad.fill(0x36);
    for (let i = 0; i < KEY_BYTES; i++) pad[i] = key[i]! ^ 0x36;
    sodium.crypto_hash_sha256_init(inner);
    sodium.crypto_hash_sha256_update(inner, pad);
    sodium.crypto_hash_sha256_update(inner, this.prefix);
    const outer = entry.subarray(OUTER_AT);
    pad.fill(0x5c);
    for (let i = 0; i < KEY_BYTES; i++) pad[i] = key[i]! ^ 0x5c;
    sodium.crypto_hash_sha256_init(outer);
    sodium.crypto_hash_sha256_update(outer, pad);
    wipe(pad);
    return entry;
  }
}
