/**
 * A relay's link-state advert, as OSPF's router-LSA (RFC 2328 §12): who originated it, a
 * sequence number, the relay's links and their costs, signed by the relay. It also carries the
 * relay's descriptor (relay-descriptor.ts), so the catalog is flooded and aged with the links
 * (docs/decisions/0032).
 *
 *   CBOR map {
 *     v: 1,
 *     origin: bytes 32       the originating relay's Ed25519 key
 *     seq: uint              1..2^32-1, one more for each advert the relay originates
 *     issued: uint           ms since the epoch, when it was originated
 *     desc: bytes            the relay's descriptor (its key is origin)
 *     links: [[to, cost]]    0..64 links: to = the neighbour's fingerprint (32 bytes),
 *                            cost 1..65535; sorted by `to`, no repeats, never origin itself
 *     age: uint              seconds, 0..3600: NOT signed, raised on each hop and while held,
 *                            as the LS age of RFC 2328 §12.1.1 (§12.1.7: the checksum leaves it out)
 *     sig: bytes 64          Ed25519 by origin over "parus-link-state-v1" || CBOR(map without age, sig)
 *   }
 */
import { compareBytes, concatBytes, fromBase64Url, toBase64Url, utf8 } from '../bytes.ts';
import { asArray, asBytes, asMap, asUint, decodeCbor, encodeCbor, type CborMap } from '../cbor.ts';
import {
  SIGNATURE_BYTES,
  SIGN_PUBLIC_BYTES,
  SIGN_SECRET_BYTES,
  assertSignature,
  sign,
  type SignKeyPair,
} from '../crypto.ts';
import { DecodeError, ProtocolError, UsageError } from '../errors.ts';
import { FINGERPRINT_BYTES, relayFingerprint } from '../relay-address.ts';
import {
  MAX_RELAY_DESCRIPTOR_BYTES,
  checkRelayDescriptorSignature,
  encodeRelayDescriptor,
  readRelayDescriptor,
  relayIdOf,
  type RelayDescriptor,
  type RelayId,
} from './relay-descriptor.ts';

export const LINK_STATE_ADVERT_VERSION = 1;
/** RFC 2328 Appendix B: MaxAge, one hour, in seconds. */
export const ADVERT_MAX_AGE_S = 3600;
/** RFC 2328 Appendix B: LSRefreshTime, 30 minutes: a relay re-originates its advert this often. */
export const ADVERT_REFRESH_S = 1800;
/** RFC 2328 Appendix B: MaxAgeDiff, 15 minutes: copies further apart in age are different instances. */
export const ADVERT_MAX_AGE_DIFF_S = 900;
/** RFC 2328 §13.3 InfTransDelay: the age an advert gains on each hop, in seconds. */
export const ADVERT_HOP_AGE_S = 1;
export const MAX_ADVERT_SEQ = 0xffff_ffff;
export const MAX_ADVERT_LINKS = 64;
export const MAX_LINK_COST = 0xffff;
export const MAX_LINK_STATE_ADVERT_BYTES = MAX_RELAY_DESCRIPTOR_BYTES + 3_200;

const ADVERT_CONTEXT = utf8('parus-link-state-v1');

export interface AdvertLink {
  /** The neighbour's fingerprint (32 bytes). */
  to: Uint8Array;
  cost: number;
}

export interface LinkStateAdvert {
  v: 1;
  origin: Uint8Array;
  seq: number;
  issued: number;
  descriptor: RelayDescriptor;
  links: AdvertLink[];
  /** Seconds; not signed (RFC 2328 §12.1.1). */
  age: number;
  sig: Uint8Array;
}

export interface CreateLinkStateAdvertOptions {
  relay: SignKeyPair;
  seq: number;
  issued: number;
  descriptor: RelayDescriptor;
  /** In any order; the advert sorts them by fingerprint. */
  links: ReadonlyArray<{ to: RelayId | Uint8Array; cost: number }>;
}

function fingerprintOf(to: RelayId | Uint8Array): Uint8Array {
  if (to instanceof Uint8Array) return to;
  if (typeof to !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(to))
    throw new UsageError('link target must be a relay id');
  try {
    return fromBase64Url(to);
  } catch {
    throw new UsageError('link target must be a relay id');
  }
}

function unsignedMap(a: Omit<LinkStateAdvert, 'sig' | 'age'>): CborMap {
  return {
    v: a.v,
    origin: a.origin,
    seq: a.seq,
    issued: a.issued,
    desc: encodeRelayDescriptor(a.descriptor),
    links: a.links.map((l) => [l.to, l.cost]),
  };
}

function signingBytes(a: Omit<LinkStateAdvert, 'sig' | 'age'>): Uint8Array {
  return concatBytes(ADVERT_CONTEXT, encodeCbor(unsignedMap(a)));
}

/** What is wrong with the fields (other than signatures), or undefined. */
function advertFault(a: Omit<LinkStateAdvert, 'sig' | 'v'>): string | undefined {
  if (!Number.isSafeInteger(a.seq) || a.seq < 1 || a.seq > MAX_ADVERT_SEQ)
    return `seq must be 1..${MAX_ADVERT_SEQ}`;
  if (!Number.isSafeInteger(a.issued) || a.issued < 0) return 'issued must be ms since the epoch';
  if (!Number.isSafeInteger(a.age) || a.age < 0 || a.age > ADVERT_MAX_AGE_S)
    return `age must be 0..${ADVERT_MAX_AGE_S}`;
  if (compareBytes(a.descriptor.key, a.origin) !== 0) return "descriptor is not the origin's";
  if (a.links.length > MAX_ADVERT_LINKS) return `has more than ${MAX_ADVERT_LINKS} links`;
  const self = relayFingerprint(a.origin);
  for (const [i, l] of a.links.entries()) {
    if (l.to.length !== FINGERPRINT_BYTES) return `link ${i} target must be ${FINGERPRINT_BYTES} bytes`;
    if (!Number.isSafeInteger(l.cost) || l.cost < 1 || l.cost > MAX_LINK_COST)
      return `link ${i} cost must be 1..${MAX_LINK_COST}`;
    if (compareBytes(l.to, self) === 0) return `link ${i} is to the origin itself`;
    if (i > 0 && compareBytes(a.links[i - 1]!.to, l.to) >= 0) return 'links are not sorted without repeats';
  }
  return undefined;
}

export function createLinkStateAdvert(opts: CreateLinkStateAdvertOptions): LinkStateAdvert {
  const { relay } = opts;
  if (relay?.publicKey?.length !== SIGN_PUBLIC_BYTES || relay.secretKey?.length !== SIGN_SECRET_BYTES) {
    throw new UsageError('relay must be an Ed25519 key pair');
  }
  if (!Array.isArray(opts.links)) throw new UsageError('links must be an array');
  const links = opts.links
    .map((l) => ({ to: fingerprintOf(l.to).slice(), cost: l.cost }))
    .sort((x, y) => compareBytes(x.to, y.to));
  const unsigned = {
    v: LINK_STATE_ADVERT_VERSION,
    origin: relay.publicKey.slice(),
    seq: opts.seq,
    issued: opts.issued,
    descriptor: opts.descriptor,
    links,
  } as const;
  const fault = advertFault({ ...unsigned, age: 0 });
  if (fault) throw new UsageError(`link-state advert ${fault}`);
  return { ...unsigned, age: 0, sig: sign(relay.secretKey, signingBytes(unsigned)) };
}

export function encodeLinkStateAdvert(a: LinkStateAdvert): Uint8Array {
  return encodeCbor({ ...unsignedMap(a), age: a.age, sig: a.sig });
}

/**
 * Strict decoding (DecodeError: shape, sizes, unsorted or repeated links, a descriptor of
 * another key), version 1 only (ProtocolError), then both signatures, the advert's and its
 * descriptor's (VerificationError). Freshness and newness are the database's checks
 * (link-state-db.ts).
 */
export function decodeLinkStateAdvert(bytes: Uint8Array): LinkStateAdvert {
  const a = readLinkStateAdvert(bytes);
  checkLinkStateAdvertSignature(a);
  checkRelayDescriptorSignature(a.descriptor);
  return a;
}

/** Throws VerificationError unless the advert's signature (not its descriptor's) is its origin's. */
export function checkLinkStateAdvertSignature(a: LinkStateAdvert): void {
  assertSignature(a.origin, signingBytes(a), a.sig, 'link-state advert');
}

/**
 * `decodeLinkStateAdvert` without the signature checks: the database reads an advert first
 * and checks signatures only of one it is about to install (module-internal: not exported by core).
 */
export function readLinkStateAdvert(bytes: Uint8Array): LinkStateAdvert {
  return advertFromMap(peekLinkStateAdvert(bytes).map);
}

/** What identifies an advert instance (RFC 2328 §12.1: the LSA header), read without the rest. */
export interface AdvertPeek {
  map: CborMap;
  origin: Uint8Array;
  seq: number;
  age: number;
  sig: Uint8Array;
}

/**
 * The CBOR of an advert and its header fields, checked; the rest is read by `advertFromMap`
 * only when the database may install it (module-internal: not exported by core).
 */
export function peekLinkStateAdvert(bytes: Uint8Array): AdvertPeek {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('link-state advert must be bytes');
  if (bytes.length > MAX_LINK_STATE_ADVERT_BYTES) {
    throw new DecodeError(`link-state advert larger than ${MAX_LINK_STATE_ADVERT_BYTES} bytes`);
  }
  const limits = {
    maxBytes: MAX_LINK_STATE_ADVERT_BYTES,
    maxDepth: 3,
    maxItems: MAX_ADVERT_LINKS,
    maxTotalItems: 8 + 3 * MAX_ADVERT_LINKS + 2,
  };
  const map = asMap(decodeCbor(bytes, limits), 'link-state advert');
  return {
    map,
    origin: asBytes(map.origin, 'link-state advert origin', { len: SIGN_PUBLIC_BYTES }),
    seq: asUint(map.seq, 'link-state advert seq', MAX_ADVERT_SEQ),
    age: asUint(map.age, 'link-state advert age', ADVERT_MAX_AGE_S),
    sig: asBytes(map.sig, 'link-state advert signature', { len: SIGNATURE_BYTES }),
  };
}

/** The whole advert from its decoded CBOR, strictly (no signature checks). */
export function advertFromMap(m: CborMap): LinkStateAdvert {
  const v = asUint(m.v, 'link-state advert version');
  if (v !== LINK_STATE_ADVERT_VERSION) throw new ProtocolError(`unknown link-state advert version ${v}`);
  const links = asArray(m.links, 'link-state advert links', MAX_ADVERT_LINKS).map((entry, i) => {
    const pair = asArray(entry, `link-state advert link ${i}`, 2);
    if (pair.length !== 2) throw new DecodeError(`link-state advert link ${i} must be [to, cost]`);
    return {
      to: asBytes(pair[0], `link-state advert link ${i} target`, { len: FINGERPRINT_BYTES }),
      cost: asUint(pair[1], `link-state advert link ${i} cost`, MAX_LINK_COST),
    };
  });
  const a: LinkStateAdvert = {
    v: LINK_STATE_ADVERT_VERSION,
    origin: asBytes(m.origin, 'link-state advert origin', { len: SIGN_PUBLIC_BYTES }),
    seq: asUint(m.seq, 'link-state advert seq', MAX_ADVERT_SEQ),
    issued: asUint(m.issued, 'link-state advert issue time'),
    descriptor: readRelayDescriptor(
      asBytes(m.desc, 'link-state advert descriptor', { max: MAX_RELAY_DESCRIPTOR_BYTES }),
    ),
    links,
    age: asUint(m.age, 'link-state advert age', ADVERT_MAX_AGE_S),
    sig: asBytes(m.sig, 'link-state advert signature', { len: SIGNATURE_BYTES }),
  };
  if (Object.keys(m).length !== 8) throw new DecodeError('link-state advert has unknown fields');
  const fault = advertFault(a);
  if (fault) throw new DecodeError(`link-state advert ${fault}`);
  return a;
}

/** The id of the relay that originated `a`. */
export function advertOrigin(a: LinkStateAdvert): RelayId {
  return relayIdOf(a.origin);
}

/** The advert's links as relay ids and costs. */
export function advertLinks(a: LinkStateAdvert): Array<{ to: RelayId; cost: number }> {
  return a.links.map((l) => ({ to: toBase64Url(l.to), cost: l.cost }));
}

/**
 * Which of two instances of one relay's advert is newer (RFC 2328 §13.1): the higher seq;
 * at equal seq the larger signature (the checksum's place: a relay that restarted and reused
 * a seq); then, when their ages differ by more than MaxAgeDiff, the younger. Positive when
 * `a` is newer, negative when `b` is, 0 for the same instance.
 */
export function compareAdvertInstances(
  a: Pick<LinkStateAdvert, 'seq' | 'sig'>,
  ageA: number,
  b: Pick<LinkStateAdvert, 'seq' | 'sig'>,
  ageB: number,
): number {
  if (a.seq !== b.seq) return a.seq - b.seq;
  const bySig = compareBytes(a.sig, b.sig);
  if (bySig !== 0) return bySig;
  if (Math.abs(ageA - ageB) > ADVERT_MAX_AGE_DIFF_S) return ageB - ageA;
  return 0;
}
