/**
 * The relay's mesh part (docs/decisions/0033): its links to other relays, the flooding of
 * link-state adverts and key records over them, the links the topology rules say to dial,
 * forwarding (forwarder.ts) and what the status page shows. The rules themselves (the
 * link-state database, bridges, the join and repair rules, shortest paths) are core's
 * (packages/core/src/mesh): this part only wires them to sockets.
 *
 * It stands beside the queue commands: the server hands it `/mesh` upgrades, the `fwd` and
 * `rkey` commands, and `/status`; it stores into queues only through CommandHandler.deposit.
 */
import {
  DecodeError,
  LinkStateDatabase,
  NotFoundError,
  checkKeyRecord,
  createRelayDescriptor,
  linksToDial,
  joinLinks,
  graphOfLinks,
  QuotaError,
  TokenBucket,
  makeKeyRecord,
  nextHopTable,
  relayFingerprint,
  shortestPaths,
  toBase64Url,
  findBridges,
} from '@parus/core';
import type {
  MeshGraph,
  ForwardFrame,
  KeyRecordRequest,
  LinkFrame,
  Random,
  RelayDescriptor,
  RelayKeyRecord,
} from '@parus/core';
import { performance } from 'node:perf_hooks';
import type { WebSocket } from 'ws';
import type { CommandContext } from '../command-context.ts';
import type { CommandHandler } from '../commands.ts';
import type { QueueStore } from '../queue-store.ts';
import type { ServerKeys } from '../server-keys.ts';
import { Dialer } from './dialer.ts';
import { ForwardStore } from './forward-store.ts';
import { Forwarder } from './forwarder.ts';
import { MeshLink } from './link.ts';

/** Key records kept (one per relay of the cloud; the link-state database has its own bound). */
const MAX_KEY_RECORDS = 4_096;
/** Links accepted at once (dialled and accepted together). */
const MAX_LINKS = 64;
/** How often adverts are aged, refreshed and the plan looked at again. */
const TICK_MS = 1_000;
/**
 * The quiet time after a database change before the links to dial are looked at (a hold-down
 * as OSPF's SPF delay): a burst of adverts (a relay gone, its neighbours re-advertising) makes
 * one plan, not one per advert.
 */
const PLAN_HOLD_DOWN_MS = 300;
/** Adverts and key records a neighbour may send: per second, and at once (a new link's database). */
const ADVERTS_PER_SECOND = 100;
const ADVERT_BURST = 2_048;

export interface MeshOptions {
  keys: ServerKeys;
  rng: Random;
  /** This relay's address, once listening (the descriptor's). */
  address: () => string;
  version: string;
  capacity: number;
  note?: string;
  join: readonly string[];
  forwardsPath: string;
  maxForwards: number;
  queues: QueueStore;
  commands: CommandHandler;
  /** Wall clock, ms. */
  now: () => number;
  messageTtlMs: number;
  handshakeTimeoutMs: number;
  log: (line: string) => void;
}

export interface RouteInfo {
  to: string;
  nextHop: string;
  hops: number;
  cost: number;
  /** Every relay on the way, this one first, the destination last. */
  path: string[];
}

export interface MeshStatus {
  relays: Array<{
    fingerprint: string;
    addresses: string[];
    version: string;
    note: string;
    reachable: boolean;
  }>;
  links: Array<{ from: string; to: string }>;
  /** This relay's own open links. */
  neighbours: string[];
  routes: RouteInfo[];
  bridges: Array<{ from: string; to: string }>;
  forwards: { held: number; forwarded: number; delivered: number };
}

export class Mesh {
  readonly self: string;
  private readonly db: LinkStateDatabase;
  private readonly links = new Map<string, MeshLink>();
  private readonly keyRecords = new Map<string, RelayKeyRecord>();
  private readonly dialer: Dialer;
  private readonly store: ForwardStore;
  private readonly forwarder: Forwarder;
  private readonly own: RelayKeyRecord;
  private descriptor: RelayDescriptor | undefined;
  private routes = new Map<string, { nextHop: string; cost: number; hops: number }>();
  private readonly timer: NodeJS.Timeout;
  private planTimer: NodeJS.Timeout | undefined;
  /** Each link's allowance of adverts and key records (ADVERTS_PER_SECOND). */
  private readonly allowance = new WeakMap<MeshLink, TokenBucket>();
  private originateQueued = false;
  private closed = false;
  /** Adverts and key records refused (forged, stale, malformed): the status page counts them. */
  refused = 0;

  constructor(private readonly opts: MeshOptions) {
    this.self = toBase64Url(opts.keys.fingerprint);
    this.db = new LinkStateDatabase({ self: this.self });
    this.own = makeKeyRecord(opts.keys.sign.secretKey, opts.keys.sign.publicKey, opts.keys.dh.publicKey);
    this.keyRecords.set(this.self, this.own);
    this.store = new ForwardStore({ path: opts.forwardsPath, maxHeld: opts.maxForwards });
    this.forwarder = new Forwarder({
      keys: opts.keys,
      store: this.store,
      queues: opts.queues,
      commands: opts.commands,
      now: opts.now,
      messageTtlMs: opts.messageTtlMs,
      log: opts.log,
      routes: {
        nextHop: (to) => {
          const route = this.routes.get(toBase64Url(to));
          return route ? this.openLink(route.nextHop) : undefined;
        },
        link: (fp) => this.openLink(toBase64Url(fp)),
      },
    });
    this.dialer = new Dialer({
      connected: (ws, target) => this.dialled(ws, target.address.fingerprint),
      linked: (id) => this.openLink(id) !== undefined,
      handshakeTimeoutMs: opts.handshakeTimeoutMs,
    });
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** Starts: our first advert, then the `--join` links. Call once the relay listens. */
  start(): void {
    this.originate();
    for (const address of this.opts.join) this.dialer.join(address);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.planTimer);
    this.dialer.close();
    this.forwarder.close();
    for (const link of this.links.values()) link.close(1001, 'relay shutting down');
    this.store.close();
  }

  /** A WebSocket upgraded on `/mesh`: a relay dialling us. */
  accept(ws: WebSocket): void {
    if (this.closed || this.links.size >= MAX_LINKS) {
      ws.close(1013, 'no more links');
      return;
    }
    this.link(ws, 'listener');
  }

  /** `fwd` and `rkey` from a client of this relay. */
  async run(ctx: CommandContext, frame: ForwardFrame | KeyRecordRequest): Promise<void> {
    const to = toBase64Url(frame.to);
    if (frame.t === 'rkey') {
      const record = this.keyRecords.get(to);
      if (!record || (to !== this.self && !this.routes.has(to)))
        throw new NotFoundError('no such relay in this cloud');
      ctx.reply({ t: 'rkey', id: frame.id, ...record });
      return;
    }
    // A relay this one cannot reach now is refused at once: the client sends directly instead.
    if (to !== this.self && !this.routes.has(to) && !this.db.get(to))
      throw new NotFoundError('no such relay in this cloud');
    await this.forwarder.fromClient(frame);
    ctx.reply({ t: 'ok', id: frame.id });
  }

  status(): MeshStatus {
    // The cloud as this relay reaches it: links among relays out of reach (dead ones whose
    // adverts have not aged out yet) are not drawn; those relays are listed as unreachable.
    const graph = this.reachableGraph();
    const reachable = new Set([this.self, ...this.routes.keys()]);
    const relays = this.db.origins().map((id) => {
      const d = this.db.descriptor(id);
      return {
        fingerprint: id,
        addresses: d ? [...d.addresses] : [],
        version: d?.version ?? '',
        note: d?.note ?? '',
        reachable: reachable.has(id),
      };
    });
    const links: Array<{ from: string; to: string }> = [];
    for (const [a, ns] of graph.edges) for (const b of ns.keys()) if (a < b) links.push({ from: a, to: b });
    const paths = graph.edges.has(this.self) ? shortestPaths(graph, this.self) : undefined;
    const routes: RouteInfo[] = [...this.routes].map(([to, r]) => {
      const path = [to];
      for (let at = to; paths && at !== this.self; ) {
        const up = paths.parent.get(at);
        if (!up) break;
        path.unshift(up);
        at = up;
      }
      return { to, nextHop: r.nextHop, hops: r.hops, cost: r.cost, path };
    });
    routes.sort((a, b) => (a.to < b.to ? -1 : 1));
    return {
      relays,
      links,
      neighbours: [...this.links.keys()].filter((id) => this.links.get(id)!.open).sort(),
      routes,
      bridges: findBridges(graph).map(([from, to]) => ({ from, to })),
      forwards: {
        held: this.forwarder.held,
        forwarded: this.forwarder.forwarded,
        delivered: this.forwarder.delivered,
      },
    };
  }

  private openLink(id: string): MeshLink | undefined {
    const link = this.links.get(id);
    return link?.open ? link : undefined;
  }

  private dialled(ws: WebSocket, expect: Uint8Array): Promise<void> {
    return new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      this.link(ws, 'dialer', expect);
    });
  }

  private link(ws: WebSocket, role: 'dialer' | 'listener', expect?: Uint8Array): void {
    new MeshLink(ws, role, {
      keys: this.opts.keys,
      rng: this.opts.rng,
      ...(expect ? { expect } : {}),
      handshakeTimeoutMs: this.opts.handshakeTimeoutMs,
      log: this.opts.log,
      onOpen: (l) => this.linkOpened(l),
      onFrame: (l, f) => this.onFrame(l, f),
      onClose: (l) => this.linkClosed(l),
    });
  }

  /**
   * Two links to one relay (both dialled at once): the one dialled by the smaller id stays,
   * on both sides alike.
   */
  private linkOpened(link: MeshLink): boolean {
    if (this.closed) return false;
    const id = link.peerId;
    const existing = this.links.get(id);
    if (existing?.open) {
      const dialerOf = (l: MeshLink): string => (l.role === 'dialer' ? this.self : id);
      if (dialerOf(existing) <= dialerOf(link)) return false;
      this.links.delete(id);
      existing.close(1000, 'duplicate link');
    }
    this.links.set(id, link);
    this.opts.log(`relay link up: ${id.slice(0, 8)}… (${link.role === 'dialer' ? 'dialled' : 'accepted'})`);
    // What we know, to the new neighbour: key records, then every advert (RFC 2328 §10.6 in short).
    for (const record of this.keyRecords.values()) link.send({ t: 'lkey', ...record });
    const now = this.opts.now();
    for (const origin of this.db.origins()) {
      const bytes = this.db.encodeForFlooding(origin, now);
      if (bytes) link.send({ t: 'lsa', data: bytes });
    }
    this.queueOriginate();
    return true;
  }

  private linkClosed(link: MeshLink): void {
    if (this.links.get(link.peerId) !== link) return;
    this.links.delete(link.peerId);
    this.opts.log(`relay link down: ${link.peerId.slice(0, 8)}…`);
    this.queueOriginate();
  }

  private onFrame(link: MeshLink, frame: LinkFrame): void {
    if (frame.t === 'lsa' || frame.t === 'lkey') {
      let bucket = this.allowance.get(link);
      if (!bucket) {
        bucket = new TokenBucket(ADVERTS_PER_SECOND, ADVERT_BURST, () => performance.now());
        this.allowance.set(link, bucket);
      }
      if (!bucket.take()) throw new QuotaError('too many adverts on this link; slow down');
    }
    switch (frame.t) {
      case 'lsa':
        return this.advert(link, frame.data);
      case 'lkey':
        return this.keyRecord(link, frame);
      case 'lfwd':
        return this.forwarder.fromLink(frame, link.peerFingerprint!);
      case 'ldone':
        return this.forwarder.answered(frame);
      default:
        throw new DecodeError('unexpected link frame');
    }
  }

  /** An advert from a neighbour: into the database (which checks it), flooded on if new. Throws on a refused one. */
  private advert(from: MeshLink, bytes: Uint8Array): void {
    const now = this.opts.now();
    let outcome;
    try {
      outcome = this.db.receive(bytes, { now, from: from.peerId, neighbours: this.neighbours() });
    } catch (error) {
      this.refused += 1;
      throw error;
    }
    if (outcome.kind === 'older') {
      const newer = this.db.encodeForFlooding(outcome.origin, now);
      if (newer) from.send({ t: 'lsa', data: newer });
      return;
    }
    if (outcome.kind !== 'installed') return;
    const flooded = this.db.encodeForFlooding(outcome.origin, now);
    if (flooded) for (const id of outcome.floodTo) this.openLink(id)?.send({ t: 'lsa', data: flooded });
    if (outcome.selfOriginated) this.originate();
    else this.recompute();
  }

  private keyRecord(from: MeshLink, record: RelayKeyRecord): void {
    try {
      checkKeyRecord(record);
    } catch (error) {
      this.refused += 1;
      throw error;
    }
    const id = toBase64Url(relayFingerprint(record.key));
    if (this.keyRecords.has(id)) return;
    if (this.keyRecords.size >= MAX_KEY_RECORDS) return;
    const clean = { key: record.key, dh: record.dh, sig: record.sig };
    this.keyRecords.set(id, clean);
    for (const link of this.links.values()) if (link !== from) link.send({ t: 'lkey', ...clean });
  }

  private neighbours(): string[] {
    return [...this.links.keys()].filter((id) => this.links.get(id)!.open);
  }

  /** Link changes come in bursts (a relay restarting): one advert for the burst. */
  private queueOriginate(): void {
    if (this.originateQueued) return;
    this.originateQueued = true;
    setImmediate(() => {
      this.originateQueued = false;
      if (!this.closed) this.originate();
    });
  }

  private originate(): void {
    const now = this.opts.now();
    this.descriptor ??= createRelayDescriptor({
      relay: this.opts.keys.sign,
      addresses: [this.opts.address()],
      version: this.opts.version,
      capacity: this.opts.capacity,
      note: this.opts.note ?? '',
      issued: now,
    });
    const neighbours = this.neighbours();
    const { bytes, floodTo } = this.db.originate({
      relay: this.opts.keys.sign,
      descriptor: this.descriptor,
      links: neighbours.map((to) => ({ to, cost: 1 })),
      now,
      neighbours,
    });
    for (const id of floodTo) this.openLink(id)?.send({ t: 'lsa', data: bytes });
    this.recompute();
  }

  /** The database changed: new routes, held forwards sent on them, and the links to dial. */
  private recompute(): void {
    const graph = this.db.graph();
    this.routes = graph.edges.has(this.self) ? nextHopTable(graph, this.self) : new Map();
    this.forwarder.routesChanged();
    clearTimeout(this.planTimer);
    this.planTimer = setTimeout(() => this.plan(), PLAN_HOLD_DOWN_MS);
    this.planTimer.unref();
  }

  /**
   * The links the topology rules say this relay dials (core mesh-topology.ts): its part of the
   * repair plan; or, when it has no link left but knows the cloud, the join rule's.
   */
  private plan(): void {
    if (this.closed) return;
    const graph = this.reachableGraph();
    const linked = (graph.edges.get(this.self)?.size ?? 0) > 0;
    const ids = linked ? linksToDial(graph, this.self) : this.db.size > 1 ? joinLinks(graph, this.self) : [];
    const wanted = ids
      .map((id) => ({ id, address: this.db.descriptor(id)?.addresses[0] }))
      .filter((w): w is { id: string; address: string } => w.address !== undefined);
    this.dialer.plan(wanted);
  }

  /**
   * The link graph of the relays this one reaches. A relay that died keeps its advert until it
   * ages out (an hour), and two dead neighbours still list each other: the rules must not plan
   * links to them (dialling would fail for that hour, and the plan would count those links as
   * made). Adverts of relays out of reach say nothing about the cloud this relay can repair.
   */
  private reachableGraph(): MeshGraph {
    const full = this.db.graph();
    const nodes = new Set([this.self, ...this.routes.keys()]);
    const links: Array<{ a: string; b: string; cost: number }> = [];
    for (const a of nodes)
      for (const [b, cost] of full.edges.get(a) ?? []) if (a < b && nodes.has(b)) links.push({ a, b, cost });
    return graphOfLinks(nodes, links);
  }

  private tick(): void {
    const now = this.opts.now();
    if (this.db.expire(now).length > 0) this.recompute();
    if (this.db.refreshDue(now)) this.originate();
    this.store.purge(now);
  }
}
