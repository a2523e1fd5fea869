import { beforeAll, describe, expect, it } from 'vitest';
import { initCrypto } from '../src/crypto.ts';
import { ExpiredError, ProtocolError, QuotaError, UsageError, VerificationError } from '../src/errors.ts';
import {
  ADVERT_HOP_AGE_S,
  ADVERT_MAX_AGE_S,
  ADVERT_REFRESH_S,
  createLinkStateAdvert,
  decodeLinkStateAdvert,
  encodeLinkStateAdvert,
  type LinkStateAdvert,
} from '../src/mesh/link-state-advert.ts';
import { LinkStateDatabase, CheckedAdvertCache, floodTargets } from '../src/mesh/link-state-db.ts';
import { T0, testRelay, type TestRelay } from './mesh-test-helpers.ts';

let a: TestRelay;
let b: TestRelay;
let c: TestRelay;
let d: TestRelay;

beforeAll(async () => {
  await initCrypto();
  [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => testRelay(n)) as [
    TestRelay,
    TestRelay,
    TestRelay,
    TestRelay,
  ];
});

function advertOf(r: TestRelay, seq: number, to: TestRelay[], issued = T0, age = 0): Uint8Array {
  const adv = createLinkStateAdvert({
    relay: r.key,
    seq,
    issued,
    descriptor: r.descriptor,
    links: to.map((t) => ({ to: t.id, cost: 1 })),
  });
  return encodeLinkStateAdvert({ ...adv, age });
}

describe('link-state database', () => {
  it('installs a newer advert and floods it to every neighbour but the sender', () => {
    const db = new LinkStateDatabase({ self: a.id });
    const out = db.receive(advertOf(b, 1, [a]), { now: T0, from: b.id, neighbours: [c.id, b.id, d.id] });
    expect(out.kind).toBe('installed');
    if (out.kind !== 'installed') return;
    expect(out.floodTo).toEqual([c.id, d.id].sort());
    expect(out.newRelay).toBe(true);
    expect(out.selfOriginated).toBe(false);
    expect(db.get(b.id)?.seq).toBe(1);
    const next = db.receive(advertOf(b, 2, [a, c]), { now: T0 + 10, from: c.id, neighbours: [c.id, b.id] });
    expect(next.kind === 'installed' && next.newRelay).toBe(false);
    expect(db.get(b.id)?.seq).toBe(2);
  });

  it('answers a duplicate with nothing and an older advert (a replay) with the newer one, changing nothing', () => {
    const db = new LinkStateDatabase({ self: a.id });
    db.receive(advertOf(b, 5, [a]), { now: T0, neighbours: [] });
    const digest = db.digest();
    expect(db.receive(advertOf(b, 5, [a]), { now: T0 + 1, from: c.id, neighbours: [c.id] }).kind).toBe(
      'duplicate',
    );
    const old = db.receive(advertOf(b, 4, [a, c]), { now: T0 + 2000, from: c.id, neighbours: [c.id] });
    expect(old.kind).toBe('older');
    if (old.kind === 'older') {
      expect(old.newer.seq).toBe(5);
      expect(old.newer.age).toBe(2 + ADVERT_HOP_AGE_S);
    }
    expect(db.digest()).toBe(digest);
  });

  it('refuses forged, aged-out, long-issued and future adverts, changing nothing', () => {
    const db = new LinkStateDatabase({ self: a.id });
    db.receive(advertOf(b, 1, [a]), { now: T0, neighbours: [] });
    const digest = db.digest();
    const forged = decodeLinkStateAdvert(advertOf(b, 2, [a, c]));
    const bytes = encodeLinkStateAdvert({ ...forged, sig: decodeLinkStateAdvert(advertOf(c, 2, [a])).sig });
    expect(() => db.receive(bytes, { now: T0, neighbours: [] })).toThrow(VerificationError);
    expect(() => db.receive(advertOf(b, 3, [a], T0, ADVERT_MAX_AGE_S), { now: T0, neighbours: [] })).toThrow(
      ExpiredError,
    );
    // An old advert whose unsigned age was reset by a relay on the way is still refused.
    const later = T0 + (ADVERT_MAX_AGE_S + 16 * 60) * 1000;
    expect(() => db.receive(advertOf(b, 4, [a], T0, 0), { now: later, neighbours: [] })).toThrow(
      ExpiredError,
    );
    expect(() => db.receive(advertOf(b, 5, [a], T0 + 3_600_000), { now: T0, neighbours: [] })).toThrow(
      ProtocolError,
    );
    expect(db.digest()).toBe(digest);
  });

  it('checks the descriptor inside a new advert, and signatures through a shared cache too', () => {
    for (const checkedAdverts of [undefined, new CheckedAdvertCache()]) {
      const db = new LinkStateDatabase({ self: a.id, ...(checkedAdverts ? { checkedAdverts } : {}) });
      // b signs an advert around a descriptor whose own signature is not b's.
      const adv = decodeLinkStateAdvert(advertOf(b, 1, [a]));
      const badDescriptor = { ...adv.descriptor, sig: new Uint8Array(64).fill(7) };
      const wrapped = createLinkStateAdvert({
        relay: b.key,
        seq: 1,
        issued: T0,
        descriptor: badDescriptor,
        links: [{ to: a.id, cost: 1 }],
      });
      expect(() => db.receive(encodeLinkStateAdvert(wrapped), { now: T0, neighbours: [] })).toThrow(
        VerificationError,
      );
      expect(db.size).toBe(0);
      db.receive(advertOf(b, 1, [a]), { now: T0, neighbours: [] });
      // A copy of the held signature over other content is a duplicate at most: nothing changes.
      const forged = encodeLinkStateAdvert({
        ...decodeLinkStateAdvert(advertOf(b, 1, [a, c])),
        sig: adv.sig,
      });
      expect(db.receive(forged, { now: T0, neighbours: [] }).kind).toBe('duplicate');
      expect(db.get(b.id)?.links).toHaveLength(1);
      const newer = decodeLinkStateAdvert(advertOf(b, 2, [a, c]));
      const forgedNewer = encodeLinkStateAdvert({ ...newer, seq: 3 });
      expect(() => db.receive(forgedNewer, { now: T0, neighbours: [] })).toThrow(VerificationError);
      expect(db.get(b.id)?.seq).toBe(1);
    }
  });

  it('is bounded: a new relay past maxRelays is refused, known ones still update', () => {
    const db = new LinkStateDatabase({ self: a.id, limits: { maxRelays: 2 } });
    db.receive(advertOf(b, 1, [a]), { now: T0, neighbours: [] });
    db.receive(advertOf(c, 1, [a]), { now: T0, neighbours: [] });
    expect(() => db.receive(advertOf(d, 1, [a]), { now: T0, neighbours: [] })).toThrow(QuotaError);
    expect(db.size).toBe(2);
    expect(db.receive(advertOf(c, 2, [a, b]), { now: T0, neighbours: [] }).kind).toBe('installed');
  });

  it('ages adverts as they are held and drops them at MaxAge; ours is due for refresh after LSRefreshTime', () => {
    const db = new LinkStateDatabase({ self: a.id });
    db.originate({
      relay: a.key,
      descriptor: a.descriptor,
      links: [{ to: b.id, cost: 1 }],
      now: T0,
      neighbours: [b.id],
    });
    db.receive(advertOf(b, 1, [a], T0, 100), { now: T0, neighbours: [] });
    expect(db.ageOf(b.id, T0 + 60_500)).toBe(160);
    expect(db.forFlooding(b.id, T0 + 60_500)?.age).toBe(161);
    expect(db.refreshDue(T0 + (ADVERT_REFRESH_S - 1) * 1000)).toBe(false);
    expect(db.refreshDue(T0 + ADVERT_REFRESH_S * 1000)).toBe(true);
    expect(db.expire(T0 + (ADVERT_MAX_AGE_S - 101) * 1000)).toEqual([]);
    expect(db.expire(T0 + (ADVERT_MAX_AGE_S - 100) * 1000)).toEqual([b.id]);
    expect(db.origins()).toEqual([a.id]);
  });

  it('takes back a newer copy of its own advert and originates past it (RFC 2328 §13.4)', () => {
    const db = new LinkStateDatabase({ self: a.id });
    const out = db.receive(advertOf(a, 41, [b]), { now: T0, from: b.id, neighbours: [b.id] });
    expect(out.kind === 'installed' && out.selfOriginated).toBe(true);
    const mine = db.originate({
      relay: a.key,
      descriptor: a.descriptor,
      links: [],
      now: T0,
      neighbours: [b.id, c.id],
    });
    expect(mine.advert.seq).toBe(42);
    expect(mine.floodTo).toEqual([b.id, c.id].sort());
    expect(decodeLinkStateAdvert(mine.bytes)).toEqual(mine.advert);
    expect(() =>
      db.originate({ relay: b.key, descriptor: b.descriptor, links: [], now: T0, neighbours: [] }),
    ).toThrow(UsageError);
  });

  it('exchanges databases by headers: wanted lists what the other holds newer or we lack', () => {
    const x = new LinkStateDatabase({ self: a.id });
    const y = new LinkStateDatabase({ self: b.id });
    x.receive(advertOf(c, 3, [d]), { now: T0, neighbours: [] });
    y.receive(advertOf(c, 2, [d]), { now: T0, neighbours: [] });
    y.receive(advertOf(d, 1, [c]), { now: T0, neighbours: [] });
    expect(x.wanted(y.summary(T0), T0)).toEqual([d.id]);
    expect(y.wanted(x.summary(T0), T0)).toEqual([c.id]);
    for (const adv of x.snapshot(T0)) y.receive(encodeLinkStateAdvert(adv), { now: T0, neighbours: [] });
    expect(y.get(c.id)?.seq).toBe(3);
  });

  it('draws the graph from two-way links only, with the larger cost', () => {
    const db = new LinkStateDatabase({ self: a.id });
    const link = (r: TestRelay, seq: number, to: Array<[TestRelay, number]>): LinkStateAdvert =>
      createLinkStateAdvert({
        relay: r.key,
        seq,
        issued: T0,
        descriptor: r.descriptor,
        links: to.map(([t, cost]) => ({ to: t.id, cost })),
      });
    for (const adv of [
      link(a, 1, [
        [b, 2],
        [c, 1],
      ]),
      link(b, 1, [[a, 5]]),
      link(c, 1, [[d, 1]]), // c does not list a, d does not exist
    ]) {
      db.receive(encodeLinkStateAdvert(adv), { now: T0, neighbours: [] });
    }
    const g = db.graph();
    expect(g.nodes).toEqual([a.id, b.id, c.id].sort());
    expect(g.edges.get(a.id)).toEqual(new Map([[b.id, 5]]));
    expect(g.edges.get(c.id)?.size).toBe(0);
  });

  it('floods on every link but the one the advert came in on', () => {
    expect(floodTargets(['z', 'x', 'y', 'x'], 'y')).toEqual(['x', 'z']);
    expect(floodTargets(['z', 'x'], undefined)).toEqual(['x', 'z']);
  });
});
