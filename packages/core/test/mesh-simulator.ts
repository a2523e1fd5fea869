/**
 * A cloud of relays in one process, for the mesh simulation test and the mesh bench: each
 * relay is the real core code (its own LinkStateDatabase, its adverts encoded, sent and
 * decoded, the real topology rules and next-hop tables); links are in-process message queues
 * with a fixed one-way latency, and adverts are flooded hop by hop as relays would flood them.
 *
 * Time is simulated (ms). A relay handles one message at a time: with `measureCpu`, each
 * receive takes the CPU time it really took (process.cpuUsage, so that other programs on a
 * loaded machine do not count; as if each relay had a core of its own), else no time at all. A link failure is noticed at once by both ends.
 */
import { generateSignKeyPair, type SignKeyPair } from '../src/crypto.ts';
import { LinkStateDatabase, type CheckedAdvertCache } from '../src/mesh/link-state-db.ts';
import { graphOfLinks, nextHopTable, type MeshGraph, type Route } from '../src/mesh/mesh-graph.ts';
import { joinLinks, planRepair, type PlannedLink } from '../src/mesh/mesh-topology.ts';
import {
  createRelayDescriptor,
  relayIdOf,
  type RelayDescriptor,
  type RelayId,
} from '../src/mesh/relay-descriptor.ts';
import { formatRelayAddress, relayFingerprint } from '../src/relay-address.ts';
import { scriptedRandom, seededInts } from './contact-test-helpers.ts';
import { T0 } from './mesh-test-helpers.ts';

export interface SimulatorOptions {
  seed: number;
  /** One-way latency of every link, simulated ms. */
  latencyMs: number;
  measureCpu?: boolean;
  checkedAdverts?: CheckedAdvertCache;
}

export interface SimRelay {
  id: RelayId;
  key: SignKeyPair;
  descriptor: RelayDescriptor;
  db: LinkStateDatabase;
  /** Live links: neighbour → cost. */
  links: Map<RelayId, number>;
  busyUntil: number;
  alive: boolean;
}

interface SimEvent {
  at: number;
  order: number;
  to: RelayId;
  from: RelayId;
  bytes: Uint8Array;
  /** A leaving relay's last advert, delivered though the link closes right after. */
  last?: boolean;
}

export class MeshSimulator {
  /** Simulated ms since the start. */
  now = 0;
  readonly relays = new Map<RelayId, SimRelay>();
  /** Adverts put on a link (flooded, sent back, or sent in a database exchange). */
  advertsSent = 0;
  /** Adverts installed, over all relays. */
  installs = 0;
  /** When the last advert was installed anywhere. */
  lastInstallAt = 0;
  /** Adverts received (delivered to a live relay), and the CPU time their handling took (measureCpu). */
  receives = 0;
  receiveCpuMs = 0;
  readonly random: (bound: number) => number;
  private readonly events: SimEvent[] = [];
  private order = 0;
  private created = 0;

  constructor(readonly opts: SimulatorOptions) {
    this.random = seededInts(opts.seed);
  }

  live(): SimRelay[] {
    return [...this.relays.values()].filter((r) => r.alive);
  }

  /** A new relay, not linked to anything. */
  addRelay(): SimRelay {
    const n = this.created++;
    const key = generateSignKeyPair(scriptedRandom(`mesh-sim-${this.opts.seed}-${n}`));
    const id = relayIdOf(key.publicKey);
    const descriptor = createRelayDescriptor({
      relay: key,
      addresses: [
        formatRelayAddress({
          fingerprint: relayFingerprint(key.publicKey),
          host: '127.0.0.1',
          port: 10_000 + n,
          transport: 'ws',
        }),
      ],
      version: '0.1.0',
      capacity: 1000,
      note: `simulated relay ${n}`,
      issued: T0,
    });
    const db = new LinkStateDatabase({
      self: id,
      ...(this.opts.checkedAdverts ? { checkedAdverts: this.opts.checkedAdverts } : {}),
    });
    const relay: SimRelay = { id, key, descriptor, db, links: new Map(), busyUntil: 0, alive: true };
    this.relays.set(id, relay);
    this.originate(relay, this.now);
    return relay;
  }

  private clock(at: number): number {
    return T0 + Math.round(at);
  }

  private send(from: SimRelay, to: RelayId, bytes: Uint8Array, at: number): void {
    this.advertsSent++;
    this.push({ at: at + this.opts.latencyMs, order: this.order++, to, from: from.id, bytes });
  }

  private originate(relay: SimRelay, at: number): void {
    const { bytes, floodTo } = relay.db.originate({
      relay: relay.key,
      descriptor: relay.descriptor,
      links: [...relay.links].map(([to, cost]) => ({ to, cost })),
      now: this.clock(at),
      neighbours: [...relay.links.keys()],
    });
    this.installs++;
    this.lastInstallAt = Math.max(this.lastInstallAt, at);
    for (const to of floodTo) this.send(relay, to, bytes, at);
  }

  /**
   * The starting cloud, without the message passing: `n` relays linked as the join rule links
   * them one after the other, each advert handed to every database once. The counters start
   * from zero afterwards.
   */
  bootstrap(n: number): void {
    const fresh = Array.from({ length: n }, () => this.addRelay());
    for (const [i, joiner] of fresh.entries()) {
      if (i === 0) continue;
      const g = this.trueGraph();
      const known = graphOfLinks(
        fresh.slice(0, i).map((r) => r.id),
        [...g.edges].flatMap(([a, ns]) =>
          [...ns].filter(([b]) => a < b).map(([b, cost]) => ({ a, b, cost })),
        ),
      );
      for (const to of joinLinks(known, joiner.id)) {
        const cost = 1 + this.random(4);
        joiner.links.set(to, cost);
        this.relays.get(to)!.links.set(joiner.id, cost);
      }
    }
    const adverts = fresh.map((r) => {
      r.db.originate({
        relay: r.key,
        descriptor: r.descriptor,
        links: [...r.links].map(([to, cost]) => ({ to, cost })),
        now: this.clock(this.now),
        neighbours: [],
      });
      return r.db.encodeForFlooding(r.id, this.clock(this.now))!;
    });
    for (const r of fresh)
      for (const bytes of adverts) r.db.receive(bytes, { now: this.clock(this.now), neighbours: [] });
    this.advertsSent = 0;
    this.installs = 0;
  }

  /** A link comes up: both ends advertise it and send each other what the other lacks (RFC 2328 §10). */
  connect(a: SimRelay, b: SimRelay, cost: number): void {
    if (a === b || a.links.has(b.id) || !a.alive || !b.alive) return;
    a.links.set(b.id, cost);
    b.links.set(a.id, cost);
    const at = this.now;
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      for (const origin of y.db.wanted(x.db.summary(this.clock(at)), this.clock(at))) {
        this.send(x, y.id, x.db.encodeForFlooding(origin, this.clock(at))!, at);
      }
    }
    this.originate(a, at);
    this.originate(b, at);
  }

  /** A link fails (or is closed): both ends notice at once and advertise without it. */
  disconnect(a: SimRelay, b: SimRelay): void {
    if (!a.links.delete(b.id)) return;
    b.links.delete(a.id);
    if (a.alive) this.originate(a, this.now);
    if (b.alive) this.originate(b, this.now);
  }

  /** A relay leaves: it withdraws its links in a last advert, then closes them. */
  leave(relay: SimRelay): void {
    const neighbours = [...relay.links.keys()].map((id) => this.relays.get(id)!);
    relay.links.clear();
    this.originate(relay, this.now);
    // Its last advert is on the links before they close.
    const lastAdvert = relay.db.encodeForFlooding(relay.id, this.clock(this.now))!;
    for (const n of neighbours) {
      this.advertsSent++;
      this.push({
        at: this.now + this.opts.latencyMs,
        order: this.order++,
        to: n.id,
        from: relay.id,
        bytes: lastAdvert,
        last: true,
      });
    }
    relay.alive = false;
    for (const n of neighbours) {
      n.links.delete(relay.id);
      this.originate(n, this.now);
    }
  }

  /** A relay stops without a word: its neighbours see their links drop. */
  crash(relay: SimRelay): void {
    relay.alive = false;
    for (const id of [...relay.links.keys()]) this.disconnect(relay, this.relays.get(id)!);
  }

  private push(e: SimEvent): void {
    const h = this.events;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): SimEvent {
    const h = this.events;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  /** Delivers messages until none is in flight. A message on a link that went down is lost. */
  run(): void {
    while (this.events.length > 0) {
      const e = this.pop();
      this.now = Math.max(this.now, e.at);
      const relay = this.relays.get(e.to)!;
      if (!relay.alive || (!relay.links.has(e.from) && !e.last)) continue;
      const start = Math.max(e.at, relay.busyUntil);
      const t0 = this.opts.measureCpu ? process.cpuUsage() : undefined;
      const out = relay.db.receive(e.bytes, {
        now: this.clock(start),
        from: e.from,
        neighbours: [...relay.links.keys()],
      });
      const used = t0 && process.cpuUsage(t0);
      const spent = used ? (used.user + used.system) / 1000 : 0;
      this.receives++;
      this.receiveCpuMs += spent;
      const done = start + spent;
      relay.busyUntil = done;
      if (out.kind === 'installed') {
        this.installs++;
        this.lastInstallAt = Math.max(this.lastInstallAt, done);
        const bytes = relay.db.encodeForFlooding(out.origin, this.clock(done))!;
        for (const to of out.floodTo) this.send(relay, to, bytes, done);
        if (out.selfOriginated) this.originate(relay, done);
      } else if (out.kind === 'older') {
        this.send(relay, e.from, relay.db.encodeForFlooding(out.origin, this.clock(done))!, done);
      }
    }
  }

  /** The links as they are (not as any relay believes). */
  trueGraph(): MeshGraph {
    const links: Array<{ a: RelayId; b: RelayId; cost: number }> = [];
    for (const r of this.live())
      for (const [to, cost] of r.links) if (r.id < to) links.push({ a: r.id, b: to, cost });
    return graphOfLinks(
      this.live().map((r) => r.id),
      links,
    );
  }

  /**
   * Floods to quiet, then applies the repair rule until it asks for nothing: every live relay
   * holds the same database (checked), so one plan, and each planned link is dialled by its
   * `from` alone. Relays left without links rejoin by the join rule. Returns the links added.
   * `holdDownMs`: how long relays wait, once the flooding is over, before they apply the rules.
   */
  settle(opts: { holdDownMs?: number; maxRounds?: number } = {}): PlannedLink[] {
    const { holdDownMs = 0, maxRounds = 12 } = opts;
    const added: PlannedLink[] = [];
    for (let round = 0; round < maxRounds; round++) {
      this.run();
      // Relays wait for their database to be quiet this long before they apply the rules.
      this.now += holdDownMs;
      const live = this.live();
      const lonely = live.filter((r) => r.links.size === 0);
      if (lonely.length > 0 && live.length > 1) {
        for (const r of lonely) {
          const peers = joinLinks(r.db.graph(), r.id)
            .map((id) => this.relays.get(id))
            .filter((p): p is SimRelay => p !== undefined && p.alive);
          const to = peers.length > 0 ? peers : [live.find((x) => x !== r)!];
          for (const p of to) this.connect(r, p, 1 + this.random(4));
        }
        continue;
      }
      const digests = new Set(live.map((r) => r.db.digest()));
      if (digests.size !== 1)
        throw new Error(`after flooding, relays hold ${digests.size} different databases`);
      const plan = planRepair(live[0]!.db.graph());
      if (plan.length === 0) return added;
      for (const l of plan) {
        // Each relay runs the rule on its own database and dials only what names it as `from`.
        const dialler = this.relays.get(l.from)!;
        this.connect(dialler, this.relays.get(l.to)!, 1 + this.random(4));
        added.push(l);
      }
    }
    throw new Error(`the cloud did not settle in ${maxRounds} rounds`);
  }

  /** Each live relay's next-hop table, from its own database. */
  routeTables(): Map<RelayId, Map<RelayId, Route>> {
    return new Map(this.live().map((r) => [r.id, nextHopTable(r.db.graph(), r.id)]));
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}
