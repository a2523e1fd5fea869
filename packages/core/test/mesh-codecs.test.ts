import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, utf8 } from '../src/bytes.ts';
import { decodeCbor, encodeCbor, type CborMap } from '../src/cbor.ts';
import { initCrypto, sign } from '../src/crypto.ts';
import { DecodeError, ProtocolError, UsageError, VerificationError } from '../src/errors.ts';
import {
  ADVERT_MAX_AGE_S,
  MAX_ADVERT_LINKS,
  MAX_LINK_STATE_ADVERT_BYTES,
  advertLinks,
  advertOrigin,
  compareAdvertInstances,
  createLinkStateAdvert,
  decodeLinkStateAdvert,
  encodeLinkStateAdvert,
} from '../src/mesh/link-state-advert.ts';
import {
  MAX_RELAY_DESCRIPTOR_BYTES,
  createRelayDescriptor,
  decodeRelayDescriptor,
  encodeRelayDescriptor,
} from '../src/mesh/relay-descriptor.ts';
import { formatRelayAddress, relayFingerprint } from '../src/relay-address.ts';
import { expectMutationsRejected, expectTruncationsRejected } from './contact-test-helpers.ts';
import { T0, testRelay, type TestRelay } from './mesh-test-helpers.ts';

let a: TestRelay;
let b: TestRelay;
let c: TestRelay;

beforeAll(async () => {
  await initCrypto();
  a = testRelay('a');
  b = testRelay('b');
  c = testRelay('c');
});

function addressOf(r: TestRelay, host: string): string {
  return formatRelayAddress({
    fingerprint: relayFingerprint(r.key.publicKey),
    host,
    port: 443,
    transport: 'wss',
  });
}

/** Re-signs a descriptor map as `signer` would, so that only the field under test is wrong. */
function signedDescriptorMap(m: CborMap, signer: TestRelay): Uint8Array {
  const { sig: _sig, ...unsigned } = m;
  const sig = sign(
    signer.key.secretKey,
    concatBytes(utf8('parus-relay-descriptor-v1'), encodeCbor(unsigned)),
  );
  return encodeCbor({ ...unsigned, sig });
}

function signedAdvertMap(m: CborMap, signer: TestRelay): Uint8Array {
  const { sig: _sig, age, ...unsigned } = m;
  const sig = sign(signer.key.secretKey, concatBytes(utf8('parus-link-state-v1'), encodeCbor(unsigned)));
  return encodeCbor({ ...unsigned, age: age ?? 0, sig });
}

describe('relay descriptor', () => {
  it('round-trips, canonically', () => {
    const d = createRelayDescriptor({
      relay: a.key,
      addresses: [addressOf(a, 'relay.example.tw'), addressOf(a, '[2001:db8::1]')],
      version: '0.2.0',
      capacity: 5000,
      note: '台北的中繼站 🐦',
      issued: T0,
    });
    const bytes = encodeRelayDescriptor(d);
    const back = decodeRelayDescriptor(bytes);
    expect(back).toEqual(d);
    expect(encodeRelayDescriptor(back)).toEqual(bytes);
  });

  it('refuses truncated and mutated encodings', () => {
    const bytes = encodeRelayDescriptor(a.descriptor);
    expectTruncationsRejected(bytes, decodeRelayDescriptor);
    expectMutationsRejected(bytes, decodeRelayDescriptor, { count: 300, seed: 32, versionOffset: -1 });
  });

  it('refuses an address of another key, even signed', () => {
    const m = decodeCbor(encodeRelayDescriptor(a.descriptor)) as CborMap;
    m.addresses = [addressOf(b, 'b.example.org')];
    expect(() => decodeRelayDescriptor(signedDescriptorMap(m, a))).toThrow(DecodeError);
  });

  it('refuses unknown fields, another version, oversized input and a forged signature', () => {
    const m = decodeCbor(encodeRelayDescriptor(a.descriptor)) as CborMap;
    expect(() => decodeRelayDescriptor(signedDescriptorMap({ ...m, extra: 1 }, a))).toThrow(DecodeError);
    expect(() => decodeRelayDescriptor(signedDescriptorMap({ ...m, v: 2 }, a))).toThrow(ProtocolError);
    expect(() => decodeRelayDescriptor(new Uint8Array(MAX_RELAY_DESCRIPTOR_BYTES + 1))).toThrow(DecodeError);
    // b signs a's descriptor: the key in it is a's, so the signature does not check.
    expect(() => decodeRelayDescriptor(signedDescriptorMap({ ...m, capacity: 1 }, b))).toThrow(
      VerificationError,
    );
    expect(() => decodeRelayDescriptor(signedDescriptorMap({ ...m, note: 'a\u202enote' }, a))).toThrow(
      DecodeError,
    );
  });

  it('creates only well-formed descriptors', () => {
    const base = { relay: a.key, addresses: [addressOf(a, 'x.org')], version: '1', capacity: 1, issued: T0 };
    expect(() => createRelayDescriptor({ ...base, addresses: [] })).toThrow(UsageError);
    expect(() => createRelayDescriptor({ ...base, addresses: [addressOf(b, 'x.org')] })).toThrow(UsageError);
    expect(() => createRelayDescriptor({ ...base, note: 'x'.repeat(281) })).toThrow(UsageError);
    expect(() => createRelayDescriptor({ ...base, version: '' })).toThrow(UsageError);
    expect(() => createRelayDescriptor({ ...base, capacity: -1 })).toThrow(UsageError);
    expect(() =>
      createRelayDescriptor({ ...base, addresses: [1, 2, 3, 4, 5].map((i) => addressOf(a, `h${i}.org`)) }),
    ).toThrow(UsageError);
  });

  it('fits the largest descriptor in its bound', () => {
    const d = createRelayDescriptor({
      relay: a.key,
      addresses: [1, 2, 3, 4].map((i) => addressOf(a, `${String(i).repeat(200)}.example`)),
      version: '𝟘'.repeat(32),
      capacity: 1_000_000_000,
      note: '𝟙'.repeat(280),
      issued: Number.MAX_SAFE_INTEGER,
    });
    const bytes = encodeRelayDescriptor(d);
    expect(bytes.length).toBeLessThanOrEqual(MAX_RELAY_DESCRIPTOR_BYTES);
    expect(decodeRelayDescriptor(bytes)).toEqual(d);
  });
});

describe('link-state advert', () => {
  function advert(
    seq = 1,
    links = [
      { to: b.id, cost: 3 },
      { to: c.id, cost: 1 },
    ],
  ) {
    return createLinkStateAdvert({ relay: a.key, seq, issued: T0, descriptor: a.descriptor, links });
  }

  it('round-trips with sorted links; the age is not signed', () => {
    const adv = advert();
    const bytes = encodeLinkStateAdvert(adv);
    const back = decodeLinkStateAdvert(bytes);
    expect(back).toEqual(adv);
    expect(encodeLinkStateAdvert(back)).toEqual(bytes);
    expect(advertOrigin(back)).toBe(a.id);
    expect(advertLinks(back).map((l) => l.to)).toEqual([b.id, c.id].sort((x, y) => (x < y ? -1 : 1)));
    const older = decodeLinkStateAdvert(encodeLinkStateAdvert({ ...adv, age: 1234 }));
    expect(older.age).toBe(1234);
  });

  it('refuses truncated and mutated encodings', () => {
    const bytes = encodeLinkStateAdvert(advert());
    expectTruncationsRejected(bytes, decodeLinkStateAdvert);
    // A mutation inside the age may decode (the age is not signed); every other one is refused.
    const { byClass } = expectMutationsRejected(bytes, decodeLinkStateAdvert, {
      count: 300,
      seed: 33,
      versionOffset: -1,
      mayDecode: true,
    });
    expect(byClass.decoded ?? 0).toBeLessThan(10);
  });

  it('refuses unsorted or repeated links, a link to itself, too many links, a foreign descriptor', () => {
    const m = decodeCbor(encodeLinkStateAdvert(advert())) as CborMap;
    const links = m.links as Array<[Uint8Array, number]>;
    expect(() => decodeLinkStateAdvert(signedAdvertMap({ ...m, links: [...links].reverse() }, a))).toThrow(
      DecodeError,
    );
    expect(() => decodeLinkStateAdvert(signedAdvertMap({ ...m, links: [links[0]!, links[0]!] }, a))).toThrow(
      DecodeError,
    );
    const self = relayFingerprint(a.key.publicKey);
    expect(() => decodeLinkStateAdvert(signedAdvertMap({ ...m, links: [[self, 1]] }, a))).toThrow(
      DecodeError,
    );
    expect(() => decodeLinkStateAdvert(signedAdvertMap({ ...m, links: [[links[0]![0], 0]] }, a))).toThrow(
      DecodeError,
    );
    const many = Array.from({ length: MAX_ADVERT_LINKS + 1 }, (_, i) => {
      const to = new Uint8Array(32);
      to[0] = i;
      return [to, 1] as [Uint8Array, number];
    });
    expect(() => decodeLinkStateAdvert(signedAdvertMap({ ...m, links: many }, a))).toThrow(DecodeError);
    expect(() =>
      decodeLinkStateAdvert(signedAdvertMap({ ...m, desc: encodeRelayDescriptor(b.descriptor) }, a)),
    ).toThrow(DecodeError);
    expect(() => decodeLinkStateAdvert(signedAdvertMap({ ...m, age: ADVERT_MAX_AGE_S + 1 }, a))).toThrow(
      DecodeError,
    );
    expect(() => decodeLinkStateAdvert(signedAdvertMap({ ...m, v: 2 }, a))).toThrow(ProtocolError);
    expect(() => decodeLinkStateAdvert(signedAdvertMap({ ...m, more: 1 }, a))).toThrow(DecodeError);
    expect(() => decodeLinkStateAdvert(new Uint8Array(MAX_LINK_STATE_ADVERT_BYTES + 1))).toThrow(DecodeError);
  });

  it('refuses an advert another relay signed (a forgery)', () => {
    const m = decodeCbor(encodeLinkStateAdvert(advert())) as CborMap;
    expect(() => decodeLinkStateAdvert(signedAdvertMap({ ...m, seq: 99 }, b))).toThrow(VerificationError);
    expect(() => decodeLinkStateAdvert(signedAdvertMap({ ...m, seq: 99 }, a))).not.toThrow();
  });

  it('holds 64 links and the largest descriptor within its bound', () => {
    const big = createRelayDescriptor({
      relay: a.key,
      addresses: [1, 2, 3, 4].map((i) => addressOf(a, `${String(i).repeat(200)}.example`)),
      version: '𝟘'.repeat(32),
      capacity: 1_000_000_000,
      note: '𝟙'.repeat(280),
      issued: Number.MAX_SAFE_INTEGER,
    });
    const links = Array.from({ length: MAX_ADVERT_LINKS }, (_, i) => {
      const to = new Uint8Array(32).fill(i + 1);
      return { to, cost: 0xffff };
    });
    const adv = createLinkStateAdvert({
      relay: a.key,
      seq: 0xffff_ffff,
      issued: Number.MAX_SAFE_INTEGER,
      descriptor: big,
      links,
    });
    const bytes = encodeLinkStateAdvert({ ...adv, age: ADVERT_MAX_AGE_S });
    expect(bytes.length).toBeLessThanOrEqual(MAX_LINK_STATE_ADVERT_BYTES);
    expect(decodeLinkStateAdvert(bytes).links).toHaveLength(MAX_ADVERT_LINKS);
  });

  it('creates only well-formed adverts', () => {
    const base = { relay: a.key, seq: 1, issued: T0, descriptor: a.descriptor, links: [] };
    expect(() => createLinkStateAdvert({ ...base, seq: 0 })).toThrow(UsageError);
    expect(() => createLinkStateAdvert({ ...base, seq: 2 ** 32 })).toThrow(UsageError);
    expect(() => createLinkStateAdvert({ ...base, descriptor: b.descriptor })).toThrow(UsageError);
    expect(() => createLinkStateAdvert({ ...base, links: [{ to: a.id, cost: 1 }] })).toThrow(UsageError);
    expect(() => createLinkStateAdvert({ ...base, links: [{ to: 'not an id', cost: 1 }] })).toThrow(
      UsageError,
    );
    expect(() =>
      createLinkStateAdvert({
        ...base,
        links: [
          { to: b.id, cost: 1 },
          { to: b.id, cost: 2 },
        ],
      }),
    ).toThrow(UsageError);
  });

  it('orders instances as RFC 2328 §13.1: seq, then signature, then age far apart', () => {
    const one = advert(1);
    const two = advert(2);
    expect(compareAdvertInstances(two, 0, one, 0)).toBeGreaterThan(0);
    expect(compareAdvertInstances(one, 0, two, 0)).toBeLessThan(0);
    const other = advert(1, [{ to: b.id, cost: 9 }]);
    const bySig = compareAdvertInstances(one, 0, other, 0);
    expect(bySig).not.toBe(0);
    expect(compareAdvertInstances(other, 0, one, 0)).toBe(-bySig);
    expect(compareAdvertInstances(one, 10, one, 800)).toBe(0);
    expect(compareAdvertInstances(one, 10, one, 1000)).toBeGreaterThan(0);
  });
});
