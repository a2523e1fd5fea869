/**
 * The link-state database: the newest advert of every relay, aged as RFC 2328 §14 ages
 * LSAs, with the decisions of §13 (install only a newer instance, answer an older one with
 * ours, flood on every link but the one it came on). Pure: the caller passes the time in,
 * sends what the results say and keeps its links; nothing here does I/O (docs/decisions/0032).
 *
 * Refusals change nothing: forged adverts (VerificationError) and malformed or oversized ones
 * (DecodeError) from the codec; stale ones, aged out or issued too long ago (ExpiredError);
 * ones claiming to come from the future (ProtocolError); a new relay past the database's bound
 * (QuotaError).
 */
import { equalBytes, toHex } from '../bytes.ts';
import { type SignKeyPair } from '../crypto.ts';
import { ExpiredError, ProtocolError, QuotaError, UsageError } from '../errors.ts';
import {
  ADVERT_HOP_AGE_S,
  ADVERT_MAX_AGE_S,
  ADVERT_REFRESH_S,
  MAX_ADVERT_SEQ,
  advertLinks,
  compareAdvertInstances,
  advertFromMap,
  checkLinkStateAdvertSignature,
  createLinkStateAdvert,
  encodeLinkStateAdvert,
  peekLinkStateAdvert,
  type AdvertPeek,
  type LinkStateAdvert,
} from './link-state-advert.ts';
import { byId, meshGraph, type MeshGraph } from './mesh-graph.ts';
import {
  checkRelayDescriptorSignature,
  encodeRelayDescriptor,
  relayIdOf,
  type RelayDescriptor,
  type RelayId,
} from './relay-descriptor.ts';

export interface MeshLimits {
  /** Most relays the database holds (adverts of new relays past it are refused). */
  maxRelays: number;
  /** How far another relay's clock may be from ours, in ms, for the `issued` checks. */
  maxClockSkewMs: number;
}

export const DEFAULT_MESH_LIMITS: MeshLimits = { maxRelays: 1024, maxClockSkewMs: 15 * 60_000 };

/** What to do after an advert came in. */
export type AdvertOutcome =
  | {
      /** A newer instance, now in the database: flood it to `floodTo` (RFC 2328 §13 (5)). */
      kind: 'installed';
      origin: RelayId;
      advert: LinkStateAdvert;
      floodTo: RelayId[];
      /**
       * It is our own advert, newer than the one we hold (we restarted, §13.4): originate
       * ours again now; `originate` takes the next seq after it.
       */
      selfOriginated: boolean;
      /** The relay was not in the database before. */
      newRelay: boolean;
    }
  /** The same instance we hold (§13 (7)): nothing to flood. */
  | { kind: 'duplicate'; origin: RelayId }
  /** An older instance (§13 (8)): send `newer`, ours, back to the neighbour it came from. */
  | { kind: 'older'; origin: RelayId; newer: LinkStateAdvert };

export interface ReceiveOptions {
  now: number;
  /** The neighbour it came from (undefined: it did not come over a link). */
  from?: RelayId;
  /** Our current neighbours, for the flood decision. */
  neighbours: readonly RelayId[];
}

/** One line of a database summary (RFC 2328 §10.6, the Database Description's LSA headers). */
export interface AdvertHeader {
  origin: RelayId;
  seq: number;
  sig: Uint8Array;
  age: number;
}

interface Entry {
  advert: LinkStateAdvert;
  /** The age it had when it came in, seconds. */
  age: number;
  /** When it came in, ms. */
  at: number;
  /** Its links by relay id, worked out once for the graph. */
  links: Array<{ to: RelayId; cost: number }>;
}

/**
 * The flood decision (RFC 2328 §13.3, point-to-point links): every neighbour except the one
 * the advert came from. Sorted, so the order of sends is deterministic.
 */
export function floodTargets(neighbours: readonly RelayId[], from: RelayId | undefined): RelayId[] {
  return [...new Set(neighbours)].filter((n) => n !== from).sort(byId);
}

/**
 * Adverts already read and checked (shape and both signatures), by origin and signature, with
 * what they were checked over. A relay has one database and checks each advert it installs
 * once, so it needs none; a process that hosts many relays' databases (the mesh simulations)
 * shares one, so that an advert is read and checked once per process rather than once per
 * simulated relay. An advert is taken from it only when every signed field it came with
 * equals the checked one's. Bounded: cleared when full.
 */
export class CheckedAdvertCache {
  private readonly adverts = new Map<string, { advert: LinkStateAdvert; desc: Uint8Array }>();
  constructor(readonly maxEntries = 100_000) {}

  /** The checked advert with the same signed contents as `peek` (its own age), if any. */
  lookup(peek: AdvertPeek): LinkStateAdvert | undefined {
    const hit = this.adverts.get(toHex(peek.origin) + toHex(peek.sig));
    if (!hit) return undefined;
    const m = peek.map;
    const a = hit.advert;
    if (Object.keys(m).length !== 8 || m.v !== a.v || m.seq !== a.seq || m.issued !== a.issued)
      return undefined;
    if (!(m.desc instanceof Uint8Array) || !equalBytes(m.desc, hit.desc)) return undefined;
    const links = m.links;
    if (!Array.isArray(links) || links.length !== a.links.length) return undefined;
    for (const [i, l] of a.links.entries()) {
      const pair = links[i];
      if (!Array.isArray(pair) || pair.length !== 2 || pair[1] !== l.cost) return undefined;
      if (!(pair[0] instanceof Uint8Array) || !equalBytes(pair[0], l.to)) return undefined;
    }
    return { ...a, age: peek.age };
  }

  remember(advert: LinkStateAdvert): void {
    if (this.adverts.size >= this.maxEntries) this.adverts.clear();
    this.adverts.set(toHex(advert.origin) + toHex(advert.sig), {
      advert,
      desc: encodeRelayDescriptor(advert.descriptor),
    });
  }
}

export class LinkStateDatabase {
  readonly self: RelayId;
  readonly limits: MeshLimits;
  /** Adverts checked by other databases of this process (see CheckedAdvertCache); none by default. */
  checkedAdverts: CheckedAdvertCache | undefined;
  private readonly entries = new Map<RelayId, Entry>();
  private readonly ids = new Map<string, RelayId>();
  private cachedGraph: MeshGraph | undefined;

  constructor(opts: { self: RelayId; limits?: Partial<MeshLimits>; checkedAdverts?: CheckedAdvertCache }) {
    if (typeof opts?.self !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(opts.self)) {
      throw new UsageError('self must be a relay id');
    }
    this.self = opts.self;
    this.limits = { ...DEFAULT_MESH_LIMITS, ...opts.limits };
    this.checkedAdverts = opts.checkedAdverts;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Every relay with an advert here, sorted. */
  origins(): RelayId[] {
    return [...this.entries.keys()].sort(byId);
  }

  get(origin: RelayId): LinkStateAdvert | undefined {
    return this.entries.get(origin)?.advert;
  }

  descriptor(origin: RelayId): RelayDescriptor | undefined {
    return this.entries.get(origin)?.advert.descriptor;
  }

  /** The advert's age now, seconds (RFC 2328 §14: it grows while held), capped at MaxAge. */
  ageOf(origin: RelayId, now: number): number | undefined {
    const e = this.entries.get(origin);
    return e === undefined ? undefined : entryAge(e, now);
  }

  /**
   * Decodes and checks an advert a neighbour sent, and installs it if it is newer than ours.
   * Throws (changing nothing) on a forged, malformed, oversized, stale or future advert, or a
   * new relay past `maxRelays`.
   */
  receive(bytes: Uint8Array, opts: ReceiveOptions): AdvertOutcome {
    const { now } = opts;
    if (!Number.isSafeInteger(now) || now < 0) throw new UsageError('now must be ms since the epoch');
    // The header first (RFC 2328 §13 (7), (8)): a duplicate or an older copy changes nothing, and
    // each advert comes in once per link of the relay, so only one that may be newer is read
    // whole and has its signatures checked.
    const peek = peekLinkStateAdvert(bytes);
    const held = this.entries.get(this.idOf(peek.origin));
    if (held) {
      const order = compareAdvertInstances(peek, peek.age, held.advert, entryAge(held, now));
      if (order === 0) return { kind: 'duplicate', origin: this.idOf(peek.origin) };
      if (order < 0) {
        const origin = this.idOf(peek.origin);
        return { kind: 'older', origin, newer: this.forFlooding(origin, now)! };
      }
    }
    const checked = this.checkedAdverts?.lookup(peek);
    if (checked) return this.consider(checked, opts, true);
    return this.consider(advertFromMap(peek.map), opts, false);
  }

  /** A relay's id from its key, remembered (it is a hash). Bounded with the database. */
  private idOf(key: Uint8Array): RelayId {
    const k = toHex(key);
    let id = this.ids.get(k);
    if (id === undefined) {
      id = relayIdOf(key);
      if (this.ids.size >= 2 * this.limits.maxRelays) this.ids.clear();
      this.ids.set(k, id);
    }
    return id;
  }

  /** The advert's signature, and its descriptor's unless it is the descriptor we hold already. */
  private checkSignatures(advert: LinkStateAdvert, held: Entry | undefined): void {
    checkLinkStateAdvertSignature(advert);
    const known = held?.advert.descriptor;
    const d = advert.descriptor;
    if (
      known &&
      equalBytes(known.sig, d.sig) &&
      equalBytes(encodeRelayDescriptor(known), encodeRelayDescriptor(d))
    ) {
      return;
    }
    checkRelayDescriptorSignature(d);
  }

  private consider(advert: LinkStateAdvert, opts: ReceiveOptions, checked: boolean): AdvertOutcome {
    const { now } = opts;
    const origin = this.idOf(advert.origin);
    // RFC 2328 §13 (4) discards a MaxAge LSA nobody holds; here no MaxAge copy is ever taken:
    // a relay withdraws by originating an advert without links, and a copy's `issued` bounds
    // how long anyone can keep it alive by resetting its unsigned age.
    if (advert.age >= ADVERT_MAX_AGE_S) throw new ExpiredError('link-state advert reached its maximum age');
    const lifetimeMs = ADVERT_MAX_AGE_S * 1000 + this.limits.maxClockSkewMs;
    if (advert.issued + lifetimeMs <= now)
      throw new ExpiredError('link-state advert was issued too long ago');
    if (advert.issued > now + this.limits.maxClockSkewMs) {
      throw new ProtocolError('link-state advert is issued in the future');
    }
    const held = this.entries.get(origin);
    if (held) {
      const order = compareAdvertInstances(advert, advert.age, held.advert, entryAge(held, now));
      if (order === 0) return { kind: 'duplicate', origin };
      if (order < 0) return { kind: 'older', origin, newer: this.forFlooding(origin, now)! };
    } else if (this.entries.size >= this.limits.maxRelays) {
      throw new QuotaError(`the link-state database holds ${this.limits.maxRelays} relays already`);
    }
    if (!checked) {
      this.checkSignatures(advert, held);
      this.checkedAdverts?.remember(advert);
    }
    this.entries.set(origin, { advert, age: advert.age, at: now, links: advertLinks(advert) });
    this.cachedGraph = undefined;
    return {
      kind: 'installed',
      origin,
      advert,
      floodTo: floodTargets(opts.neighbours, opts.from),
      selfOriginated: origin === this.self && opts.from !== undefined,
      newRelay: held === undefined,
    };
  }

  /**
   * Originates our own advert: the next seq after the one held (ours, or a newer copy of ours
   * the cloud sent back, §13.4), installed here and to be flooded to every neighbour.
   */
  originate(opts: {
    relay: SignKeyPair;
    descriptor: RelayDescriptor;
    links: ReadonlyArray<{ to: RelayId; cost: number }>;
    now: number;
    neighbours: readonly RelayId[];
  }): { advert: LinkStateAdvert; bytes: Uint8Array; floodTo: RelayId[] } {
    if (relayIdOf(opts.relay.publicKey) !== this.self)
      throw new UsageError("relay key is not this database's");
    const held = this.entries.get(this.self);
    const seq = (held?.advert.seq ?? 0) + 1;
    if (seq > MAX_ADVERT_SEQ) throw new UsageError('advert sequence numbers are used up');
    const advert = createLinkStateAdvert({
      relay: opts.relay,
      seq,
      issued: opts.now,
      descriptor: opts.descriptor,
      links: opts.links,
    });
    this.entries.set(this.self, { advert, age: 0, at: opts.now, links: advertLinks(advert) });
    this.cachedGraph = undefined;
    return {
      advert,
      bytes: encodeLinkStateAdvert(advert),
      floodTo: floodTargets(opts.neighbours, undefined),
    };
  }

  /** The advert as we send it on: its age now plus one hop's (RFC 2328 §13.3 InfTransDelay). */
  forFlooding(origin: RelayId, now: number): LinkStateAdvert | undefined {
    const e = this.entries.get(origin);
    if (!e) return undefined;
    return { ...e.advert, age: Math.min(ADVERT_MAX_AGE_S, entryAge(e, now) + ADVERT_HOP_AGE_S) };
  }

  /** `forFlooding`, encoded. */
  encodeForFlooding(origin: RelayId, now: number): Uint8Array | undefined {
    const a = this.forFlooding(origin, now);
    return a && encodeLinkStateAdvert(a);
  }

  /** Removes adverts that reached MaxAge (RFC 2328 §14); returns their origins. */
  expire(now: number): RelayId[] {
    const gone: RelayId[] = [];
    for (const [origin, e] of this.entries) {
      if (origin === this.self) continue; // ours is refreshed, never aged out here
      if (entryAge(e, now) >= ADVERT_MAX_AGE_S) gone.push(origin);
    }
    for (const origin of gone) this.entries.delete(origin);
    if (gone.length > 0) this.cachedGraph = undefined;
    return gone.sort(byId);
  }

  /** Our advert is due to be originated again (LSRefreshTime, RFC 2328 §12.4). */
  refreshDue(now: number): boolean {
    const e = this.entries.get(this.self);
    return e === undefined || entryAge(e, now) >= ADVERT_REFRESH_S;
  }

  /** Headers of every advert held (the database exchange of a new link, RFC 2328 §10.6). */
  summary(now: number): AdvertHeader[] {
    return this.origins().map((origin) => {
      const e = this.entries.get(origin)!;
      return { origin, seq: e.advert.seq, sig: e.advert.sig, age: entryAge(e, now) };
    });
  }

  /** Which of a neighbour's headers name adverts newer than ours, or ones we lack: to request (§10.6). */
  wanted(headers: readonly AdvertHeader[], now: number): RelayId[] {
    const out: RelayId[] = [];
    for (const h of headers) {
      const e = this.entries.get(h.origin);
      if (!e || compareAdvertInstances(h, h.age, e.advert, entryAge(e, now)) > 0) out.push(h.origin);
    }
    return [...new Set(out)].sort(byId);
  }

  /** Every advert held, as sent on (with ages), for a new neighbour. */
  snapshot(now: number): LinkStateAdvert[] {
    return this.origins().map((o) => this.forFlooding(o, now)!);
  }

  /** The two-way link graph of every advert held (mesh-graph.ts). */
  graph(): MeshGraph {
    this.cachedGraph ??= meshGraph([...this.entries].map(([origin, e]) => ({ origin, links: e.links })));
    return this.cachedGraph;
  }

  /** What is held, as text (origin, seq and signature start of each advert), for comparing databases. */
  digest(): string {
    return this.origins()
      .map((o) => {
        const a = this.entries.get(o)!.advert;
        return `${o}:${a.seq}:${a.sig[0]}`;
      })
      .join(',');
  }
}

function entryAge(e: Entry, now: number): number {
  const held = Math.max(0, Math.floor((now - e.at) / 1000));
  return Math.min(ADVERT_MAX_AGE_S, e.age + held);
}
