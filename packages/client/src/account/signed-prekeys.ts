/**
 * This device's signed prekeys toward contacts, this part owns them (decision 0062). Each device
 * set entry carries the device's medium-term prekey (X25519 + X-Wing, signed by the device key:
 * core device-set.ts), which a new device of the contact uses to open a session with this one
 * (PQXDH without a one-time prekey, X3DH §3.3). As Signal does with its signed prekey (X3DH
 * §4.6, https://signal.org/docs/specifications/x3dh/), the device makes a new one every
 * PREKEY_ROTATION_MS and keeps the replaced secret for PREKEY_GRACE_MS, for introductions
 * already on their way, then wipes it: a capture of the device later cannot open the first
 * message of a session set up to a prekey gone by then.
 *
 *   devices/prekeys   { cur: { dh, kem, at }, old: [{ dh, kem, at, end }] }
 *
 * `dh` is an X25519 secret, `kem` an X-Wing seed, `at` when the pair became current, `end` when
 * it was replaced (this device's clock, injected). Before the first rotation the current pair is
 * the device's keys from its log entry (DeviceRegistry.prekeys), as before this part existed;
 * the record starts when the client first asks whether a rotation is due. At most
 * MAX_OLD_PREKEYS replaced pairs are kept, the oldest wiped first. The client decides when (the
 * flush asks); nothing here reads a clock but the injected one.
 */
import {
  asArray,
  asBytes,
  asMap,
  asUint,
  decodeCbor,
  dhKeyPairFromSecret,
  encodeCbor,
  equalBytes,
  prekeyId,
  wipe,
  xwingKeyPairFromSeed,
  type CborMap,
  type CborValue,
  type DhKeyPair,
  type KemKeyPair,
} from '@parus/core';
import type { AccountContext } from './account-context.ts';
import { DEVICE_COLLECTION, type DeviceRegistry } from './device-registry.ts';

const DAY = 24 * 60 * 60 * 1000;
/** A new signed prekey every week. */
export const PREKEY_ROTATION_MS = 7 * DAY;
/** A replaced prekey's secret is kept this long for introductions in flight, then wiped. */
export const PREKEY_GRACE_MS = 14 * DAY;
/** At most this many replaced prekeys are kept (two, with the figures above), the oldest go first. */
export const MAX_OLD_PREKEYS = 3;
const KEY = 'prekeys';

interface Pair {
  dh: Uint8Array;
  kem: Uint8Array;
  at: number;
  /** The device's log keys (the first pair), stored apart too. */
  log?: true;
}
interface OldPair extends Pair {
  end: number;
}
interface Stored {
  cur: Pair;
  old: OldPair[];
}

function pair(v: CborValue | undefined, what: string): Pair {
  const m = asMap(v, what);
  return {
    dh: asBytes(m.dh, `${what} X25519 secret`, { len: 32 }),
    kem: asBytes(m.kem, `${what} X-Wing seed`, { len: 32 }),
    at: asUint(m.at, `${what} time`),
    ...(m.log === true ? { log: true as const } : {}),
  };
}

function decode(bytes: Uint8Array): Stored {
  const m = asMap(decodeCbor(bytes), 'signed prekeys');
  return {
    cur: pair(m.cur, 'signed prekey'),
    old: asArray(m.old, 'old signed prekeys', MAX_OLD_PREKEYS).map((v) => ({
      ...pair(v, 'old signed prekey'),
      end: asUint(asMap(v, 'old signed prekey').end, 'old signed prekey end'),
    })),
  };
}

function pairMap(p: Pair): CborMap {
  return { dh: p.dh, kem: p.kem, at: p.at, ...(p.log ? { log: true } : {}) };
}

function encode(s: Stored): Uint8Array {
  return encodeCbor({ cur: pairMap(s.cur), old: s.old.map((o) => ({ ...pairMap(o), end: o.end })) });
}

function keys(p: { dh: Uint8Array; kem: Uint8Array }): { dh: DhKeyPair; kem: KemKeyPair } {
  return { dh: dhKeyPairFromSecret(p.dh), kem: xwingKeyPairFromSeed(p.kem) };
}

export type SignedPrekeysContext = Pick<AccountContext, 'store' | 'rng' | 'now'>;

export class SignedPrekeys {
  constructor(
    private readonly ctx: SignedPrekeysContext,
    private readonly registry: DeviceRegistry,
  ) {}

  private async read(): Promise<Stored | undefined> {
    const raw = await this.ctx.store.get(DEVICE_COLLECTION, KEY);
    return raw ? decode(raw) : undefined;
  }

  /** The prekey pair this device publishes now. */
  async current(): Promise<{ dh: DhKeyPair; kem: KemKeyPair }> {
    const s = await this.read();
    return s ? keys(s.cur) : this.registry.prekeys();
  }

  /**
   * The pair whose public X25519 key has this id (core prekeyId, what an introduction names):
   * the current one, or a replaced one still in its grace period. Undefined otherwise (wiped,
   * or never this device's).
   */
  async find(id: Uint8Array): Promise<{ dh: DhKeyPair; kem: KemKeyPair } | undefined> {
    const s = await this.read();
    if (!s) {
      const cur = await this.registry.prekeys();
      return equalBytes(prekeyId(cur.dh.publicKey), id) ? cur : undefined;
    }
    const now = this.ctx.now();
    for (const p of [s.cur, ...s.old.filter((o) => now < o.end + PREKEY_GRACE_MS)]) {
      const k = keys(p);
      if (equalBytes(prekeyId(k.dh.publicKey), id)) return k;
    }
    return undefined;
  }

  /**
   * Makes a new current pair when the one in force is PREKEY_ROTATION_MS old, and wipes replaced
   * pairs past their grace (or beyond MAX_OLD_PREKEYS). The first call only starts the record
   * (the log's keys, current from now). Returns whether the current pair changed: the caller
   * then publishes new device sets.
   */
  async rotateIfDue(): Promise<boolean> {
    const now = this.ctx.now();
    if (now < this.checkAt) return false;
    const s = await this.read();
    if (!s) {
      const first = await this.registry.prekeys();
      const cur: Pair = {
        dh: first.dh.secretKey.slice(),
        kem: first.kem.secretKey.slice(),
        at: now,
        log: true,
      };
      await this.write({ cur, old: [] });
      return false;
    }
    let rotated = false;
    let old = s.old;
    if (now >= s.cur.at + PREKEY_ROTATION_MS) {
      old = [{ ...s.cur, end: now }, ...old];
      s.cur = { dh: this.ctx.rng.bytes(32), kem: this.ctx.rng.bytes(32), at: now };
      rotated = true;
    }
    const kept = old.filter((o) => now < o.end + PREKEY_GRACE_MS).slice(0, MAX_OLD_PREKEYS);
    const gone = old.filter((o) => !kept.includes(o));
    if (!rotated && gone.length === 0) {
      this.checkAt = Math.min(s.cur.at + PREKEY_ROTATION_MS, ...old.map((o) => o.end + PREKEY_GRACE_MS));
      return false;
    }
    await this.write({ cur: s.cur, old: kept });
    // The first pair is also the device's log keys (stored apart): they go with it.
    if (gone.some((o) => o.log)) await this.registry.forgetLogPrekey();
    for (const o of gone) wipe(o.dh, o.kem);
    return rotated;
  }

  /** Until when nothing is due (the flush asks often; the store is read once per change). */
  private checkAt = 0;

  private async write(s: Stored): Promise<void> {
    this.checkAt = Math.min(s.cur.at + PREKEY_ROTATION_MS, ...s.old.map((o) => o.end + PREKEY_GRACE_MS));
    await this.ctx.store.batch([{ type: 'put', collection: DEVICE_COLLECTION, key: KEY, value: encode(s) }]);
  }
}
