/**
 * The relay's side of command authenticators (relay-protocol.ts, docs/decisions/0005):
 * a fresh X25519 key pair for one connection, whose public half goes out in `welcome`,
 * and the MAC key K of every queue key seen on the connection, derived once (one X25519
 * and one HKDF) and then reused, so each command costs one HMAC-SHA-256.
 *
 * The cache is bounded: a connection may hold up to `maxSubscriptionsPerConnection`
 * queues, and it uses a recipient key for each and a sender key for each queue it sends
 * to, so the relay keeps twice that (plus a little); past it the least recently used K
 * goes, and is recomputed if its key comes back. Every K is wiped when it leaves the cache
 * and when the connection closes, with the connection's secret.
 */
import {
  AuthError,
  deriveCommandAuthKey,
  generateDhKeyPair,
  checkCommandAuth,
  toHex,
  wipe,
} from '@parus/core';
import type { AuthenticatedCommand, Random } from '@parus/core';

export class CommandAuth {
  /** The relay's X25519 public key for this connection (`dh` in `welcome`). */
  readonly publicKey: Uint8Array;
  private readonly secretKey: Uint8Array;
  /** K by client public key (hex), least recently used first. */
  private readonly keys = new Map<string, Uint8Array>();
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
  }

  /** How many keys K are cached (for tests). */
  get size(): number {
    return this.keys.size;
  }

  /**
   * Throws AuthError unless `auth` authenticates `frame` under `clientKey` on this
   * connection; VerificationError (from X25519) when `clientKey` is a low-order point.
   */
  check(clientKey: Uint8Array, frame: AuthenticatedCommand, auth: Uint8Array | undefined): void {
    if (!auth) throw new AuthError(`${frame.t} must be authenticated`);
    if (!checkCommandAuth(this.keyFor(clientKey), this.session, frame, auth)) {
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
    return prove(this.keyFor(clientKey));
  }

  /** The connection is gone: forget every key. Later checks fail. */
  close(): void {
    this.closed = true;
    for (const key of this.keys.values()) wipe(key);
    this.keys.clear();
    wipe(this.secretKey);
  }

  private keyFor(clientKey: Uint8Array): Uint8Array {
    if (this.closed) throw new AuthError('connection closed');
    const id = toHex(clientKey);
    const cached = this.keys.get(id);
    if (cached) {
      // Most recently used goes last, so eviction takes the key unused the longest.
      this.keys.delete(id);
      this.keys.set(id, cached);
      return cached;
    }
    const key = deriveCommandAuthKey(this.secretKey, clientKey, this.session, clientKey);
    if (this.keys.size >= this.maxKeys) {
      const oldest = this.keys.keys().next().value;
      if (oldest !== undefined) {
        wipe(this.keys.get(oldest));
        this.keys.delete(oldest);
      }
    }
    this.keys.set(id, key);
    return key;
  }
}
