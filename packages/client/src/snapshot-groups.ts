/**
 * The groups section of the account snapshot (docs/decisions/0040): what a new device needs so
 * that a group restores as a working membership, not a name in a list. Kept apart from
 * account-snapshot.ts (which only names the section) so that the other sections change without
 * touching this one.
 *
 *   groups: [ { id (16), status, name, alias?, me (64: my member key, seed || public),
 *               nx? (80: my next member key, sealed to the account key), created,
 *               inviter? (32: the identity of the contact or peer who invited me),
 *               invitees: [member key], events: [signed state event as received],
 *               links: [ { m: member key, t: identity of the contact or peer reaching them } ],
 *               peers: [ { identity (64), theirIdentity (32), device? (32), name,
 *                          senderKey?, theirSenderKey? (32), theirSet?, mySet? (≤ 32 KiB),
 *                          nextSealed? (80) } ],
 *               room?: { door?: { s (32), card: {…} }, join?: { k (32), nick? } } } ]
 *
 * Never a sender chain, a receiver chain, a fan-out list, queue of a contact or ratchet state: a
 * restored device draws its own chain and makes its own sessions (decision 0030). The state
 * events are the group's state (members, roles, bans, name, topic, 公告, settings); messages are
 * the history section's. A room door travels with its card's secrets (identity, prekeys and its
 * queue's keys): it is the keeper's rendezvous point, not a device's, and without it every link
 * handed out stops working when the keeper's device is lost.
 *
 * Strict: unknown fields, wrong sizes, an event that does not verify or names another group, a
 * group without exactly one create, a member key whose halves disagree, and a link or inviter
 * naming nobody in the snapshot are refused (DecodeError, VerificationError).
 */
import {
  DecodeError,
  VerificationError,
  asArray,
  asBytes,
  asMap,
  asText,
  asUint,
  decodeGroupEvent,
  equalBytes,
  optional,
  signKeyPairFromSeed,
  toHex,
  type CborMap,
  type CborValue,
} from '@parus/core';
import { GROUP_STATUSES, type GroupStatusLocal } from './groups/group-records.ts';
import { SEALED_MEMBER_SEED_BYTES } from './groups/member-rotation.ts';
import type { InboundQueue } from './records.ts';

/** Bounds of the section: the engine's own (engine-context.ts MAX_GROUPS, MAX_GROUP_EVENTS). */
export const MAX_SNAPSHOT_GROUPS = 256;
export const MAX_SNAPSHOT_GROUP_EVENTS = 10_000;
export const MAX_SNAPSHOT_GROUP_LINKS = 4096;

/** A hidden group peer (a session made through the group, decision 0012): who, not the session. */
export interface SnapshotGroupPeer {
  /** My identity toward them (Ed25519 secret key, seed || public). */
  identity: Uint8Array;
  theirIdentity: Uint8Array;
  device?: Uint8Array;
  name: string;
  /**
   * Decision 0060: what a restored or linked device needs to introduce itself to the peer as a
   * contact's device sets do (decision 0038): my sender key for their queue and theirs, their
   * device set toward me and mine toward them, my next identity sealed to the account key.
   */
  senderKey?: Uint8Array;
  theirSenderKey?: Uint8Array;
  theirSet?: Uint8Array;
  mySet?: Uint8Array;
  nextSealed?: Uint8Array;
}

/** The device-set fields of a hidden peer (decision 0060), with their sizes. */
export const PEER_SET_FIELDS = {
  senderKey: { len: 32 },
  theirSenderKey: { len: 32 },
  theirSet: { max: 32 * 1024 },
  mySet: { max: 32 * 1024 },
  nextSealed: { len: 80 },
} as const;
type PeerSetField = keyof typeof PEER_SET_FIELDS;
const PEER_SET_KEYS = Object.keys(PEER_SET_FIELDS) as PeerSetField[];

/** A hidden peer as CBOR (the snapshot's and a restored group's waiting record's encoding). */
export function encodeSnapshotPeer(p: SnapshotGroupPeer): CborMap {
  const x: CborMap = { identity: p.identity, theirIdentity: p.theirIdentity, name: p.name };
  if (p.device) x.device = p.device;
  for (const k of PEER_SET_KEYS) {
    const v = p[k];
    if (v) x[k] = v;
  }
  return x;
}

/** The device-set fields of `from` (a peer's contact record) onto `p`. */
export function withPeerSets(
  p: SnapshotGroupPeer,
  from: Partial<Record<PeerSetField, Uint8Array | undefined>>,
): SnapshotGroupPeer {
  for (const k of PEER_SET_KEYS) {
    const v = from[k];
    if (v) p[k] = v;
  }
  return p;
}

/** The card of a room door I keep (decision 0013), as the invite record holds it. */
export interface SnapshotDoorCard {
  id: Uint8Array;
  link: string;
  identity: Uint8Array;
  prekey: Uint8Array;
  kem: Uint8Array;
  queue: InboundQueue;
  queue2?: InboundQueue;
  expires: number;
  created: number;
}

export interface SnapshotRoom {
  door?: { s: Uint8Array; link: string; card: SnapshotDoorCard };
  join?: { k: Uint8Array; nick?: string };
}

export interface SnapshotGroup {
  id: Uint8Array;
  status: GroupStatusLocal;
  name: string;
  alias?: string;
  /** My member key (the per-group identity), seed || public. */
  me: Uint8Array;
  /** My next member key's seed, sealed to the account key (pre-rotation, groups/member-rotation.ts). */
  nx?: Uint8Array;
  created: number;
  /** The identity (theirIdentity) of the contact or peer who invited me. */
  inviter?: Uint8Array;
  invitees: Uint8Array[];
  /** The signed state events, encoded as received. */
  events: Uint8Array[];
  /** Member key → the identity of the contact or peer that reaches them. */
  links: Array<{ m: Uint8Array; t: Uint8Array }>;
  peers: SnapshotGroupPeer[];
  room?: SnapshotRoom;
}

// ---- Encoding ---------------------------------------------------------------------------------

function queueMap(q: InboundQueue): CborMap {
  return { relay: q.relay, rid: q.rid, sid: q.sid, rk: q.rk, key: q.key, secured: q.secured };
}

function roomMap(r: SnapshotRoom): CborMap {
  const out: CborMap = {};
  if (r.door) {
    const c = r.door.card;
    const card: CborMap = {
      id: c.id,
      link: c.link,
      identity: c.identity,
      prekey: c.prekey,
      kem: c.kem,
      queue: queueMap(c.queue),
      expires: c.expires,
      created: c.created,
    };
    if (c.queue2) card.queue2 = queueMap(c.queue2);
    out.door = { s: r.door.s, link: r.door.link, card };
  }
  if (r.join) {
    const join: CborMap = { k: r.join.k };
    if (r.join.nick !== undefined) join.nick = r.join.nick;
    out.join = join;
  }
  return out;
}

export function encodeSnapshotGroups(groups: readonly SnapshotGroup[]): CborValue {
  return groups.map(encodeSnapshotGroup);
}

/** One group of the section (a `group` sync op's `sec` carries it, decision 0060). */
export function encodeSnapshotGroup(g: SnapshotGroup): CborMap {
  const m: CborMap = {
    id: g.id,
    status: g.status,
    name: g.name,
    me: g.me,
    created: g.created,
    invitees: [...g.invitees],
    events: [...g.events],
    links: g.links.map((l) => ({ m: l.m, t: l.t })),
    peers: g.peers.map(encodeSnapshotPeer),
  };
  if (g.alias !== undefined) m.alias = g.alias;
  if (g.nx) m.nx = g.nx;
  if (g.inviter) m.inviter = g.inviter;
  if (g.room) m.room = roomMap(g.room);
  return m;
}

// ---- Decoding ---------------------------------------------------------------------------------

function fields(m: CborMap, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(m))
    if (!allowed.includes(k)) throw new DecodeError(`${what} has unknown fields`);
}

const key32 = (v: CborValue | undefined, what: string): Uint8Array => asBytes(v, what, { len: 32 });

/** An Ed25519 secret key (seed || public) whose public half is the seed's. */
function signSecret(v: CborValue | undefined, what: string): Uint8Array {
  const sk = asBytes(v, what, { len: 64 });
  if (!equalBytes(signKeyPairFromSeed(sk.subarray(0, 32)).publicKey, sk.subarray(32, 64)))
    throw new VerificationError(`${what}: the public half is not the seed's`);
  return sk;
}

function queue(v: CborValue | undefined, what: string): InboundQueue {
  const m = asMap(v, what);
  fields(m, ['relay', 'rid', 'sid', 'rk', 'key', 'secured'], what);
  if (typeof m.secured !== 'boolean') throw new DecodeError(`${what}: secured must be a boolean`);
  return {
    relay: asText(m.relay, 'relay', 512),
    rid: asBytes(m.rid, 'rid', { max: 64 }),
    sid: asBytes(m.sid, 'sid', { max: 64 }),
    rk: key32(m.rk, 'rk'),
    key: key32(m.key, 'queue key'),
    secured: m.secured,
  };
}

function room(v: CborValue): SnapshotRoom {
  const m = asMap(v, 'snapshot room');
  fields(m, ['door', 'join'], 'snapshot room');
  const out: SnapshotRoom = {};
  const door = optional(m.door, (x) => {
    const d = asMap(x, 'snapshot door');
    fields(d, ['s', 'link', 'card'], 'snapshot door');
    const c = asMap(d.card, 'snapshot door card');
    fields(
      c,
      ['id', 'link', 'identity', 'prekey', 'kem', 'queue', 'queue2', 'expires', 'created'],
      'snapshot door card',
    );
    const card: SnapshotDoorCard = {
      id: key32(c.id, 'door card id'),
      link: asText(c.link, 'door card link', 8192),
      identity: signSecret(c.identity, 'door identity'),
      prekey: key32(c.prekey, 'door prekey'),
      kem: key32(c.kem, 'door kem'),
      queue: queue(c.queue, 'door queue'),
      expires: asUint(c.expires, 'door expires'),
      created: asUint(c.created, 'door created'),
    };
    const q2 = optional(c.queue2, (y) => queue(y, 'door queue2'));
    if (q2) card.queue2 = q2;
    return { s: key32(d.s, 'room secret'), link: asText(d.link, 'room link', 16 * 1024), card };
  });
  if (door) out.door = door;
  const join = optional(m.join, (x) => {
    const j = asMap(x, 'snapshot room join');
    fields(j, ['k', 'nick'], 'snapshot room join');
    const r: { k: Uint8Array; nick?: string } = { k: key32(j.k, 'door keeper') };
    const nick = optional(j.nick, (y) => asText(y, 'nick', 64));
    if (nick !== undefined) r.nick = nick;
    return r;
  });
  if (join) out.join = join;
  return out;
}

/** A hidden peer, strictly (the snapshot's and a restored group's waiting record's). */
export function decodeSnapshotPeer(x: CborValue): SnapshotGroupPeer {
  const p = asMap(x, 'group peer');
  fields(p, ['identity', 'theirIdentity', 'device', 'name', ...PEER_SET_KEYS], 'group peer');
  const out: SnapshotGroupPeer = {
    identity: signSecret(p.identity, 'peer identity'),
    theirIdentity: key32(p.theirIdentity, 'peer their identity'),
    name: asText(p.name, 'peer name', 64),
  };
  const device = optional(p.device, (y) => key32(y, 'peer device'));
  if (device) out.device = device;
  for (const k of PEER_SET_KEYS) if (p[k] !== undefined) out[k] = asBytes(p[k], k, PEER_SET_FIELDS[k]);
  return out;
}

/**
 * One group of the section, checked as the snapshot's are; `reachable` says whether a link or
 * the inviter may name an identity besides the group's own peers (a `group` sync op's section,
 * decision 0060, names contacts this device may not have yet: any identity).
 */
export function decodeSnapshotGroup(
  v: CborValue,
  reachable: (identity: string) => boolean = () => true,
): SnapshotGroup {
  return group(v, { has: reachable });
}

function group(v: CborValue, contacts: { has(identity: string): boolean }): SnapshotGroup {
  const m = asMap(v, 'snapshot group');
  fields(
    m,
    [
      'id',
      'status',
      'name',
      'alias',
      'me',
      'nx',
      'created',
      'inviter',
      'invitees',
      'events',
      'links',
      'peers',
      'room',
    ],
    'snapshot group',
  );
  const id = asBytes(m.id, 'group id', { len: 16 });
  const status = asText(m.status, 'group status', 16);
  const known = GROUP_STATUSES.find((s) => s === status);
  if (!known) throw new DecodeError('unknown group status');
  // Every event is checked as it would be off the wire: its id, its signature, its group; and
  // the group has exactly one create, bound to the group id (decision 0022).
  const events = asArray(m.events, 'group events', MAX_SNAPSHOT_GROUP_EVENTS).map((e) =>
    asBytes(e, 'group event', { max: 64 * 1024 }),
  );
  let creates = 0;
  const seen = new Set<string>();
  for (const bytes of events) {
    const ev = decodeGroupEvent(bytes, { group: id });
    if (seen.has(toHex(ev.id))) throw new DecodeError('a group event is in the snapshot twice');
    seen.add(toHex(ev.id));
    if (ev.type === 'create') creates++;
  }
  if (creates !== 1) throw new DecodeError('a snapshot group needs exactly one create event');
  const peers = asArray(m.peers, 'group peers', MAX_SNAPSHOT_GROUP_LINKS).map(decodeSnapshotPeer);
  // Links and the inviter name someone the snapshot holds: a contact or one of these peers.
  const peerIds = new Set(peers.map((p) => toHex(p.theirIdentity)));
  const named = (t: Uint8Array, what: string): Uint8Array => {
    if (!contacts.has(toHex(t)) && !peerIds.has(toHex(t)))
      throw new DecodeError(`${what} names nobody in the snapshot`);
    return t;
  };
  const out: SnapshotGroup = {
    id,
    status: known,
    name: asText(m.name, 'group name', 256),
    me: signSecret(m.me, 'member key'),
    created: asUint(m.created, 'group created'),
    invitees: asArray(m.invitees, 'invitees', MAX_SNAPSHOT_GROUP_LINKS).map((x) => key32(x, 'invitee')),
    events,
    links: asArray(m.links, 'group links', MAX_SNAPSHOT_GROUP_LINKS).map((x) => {
      const l = asMap(x, 'group link');
      fields(l, ['m', 't'], 'group link');
      return { m: key32(l.m, 'linked member'), t: named(key32(l.t, 'link identity'), 'a group link') };
    }),
    peers,
  };
  const alias = optional(m.alias, (x) => asText(x, 'group alias', 64));
  if (alias !== undefined) out.alias = alias;
  const nx = optional(m.nx, (x) => asBytes(x, 'sealed next member key', { len: SEALED_MEMBER_SEED_BYTES }));
  if (nx) out.nx = nx;
  const inviter = optional(m.inviter, (x) => named(key32(x, 'inviter'), 'the inviter'));
  if (inviter) out.inviter = inviter;
  const r = optional(m.room, room);
  if (r) out.room = r;
  return out;
}

/**
 * The groups section; `contacts` are the hex identities (theirIdentity) of the snapshot's
 * contacts, which links may name. Absent (a snapshot made before groups travelled): none.
 */
export function decodeSnapshotGroups(
  v: CborValue | undefined,
  contacts: ReadonlySet<string>,
): SnapshotGroup[] {
  if (v === undefined) return [];
  const seen = new Set<string>();
  return asArray(v, 'snapshot groups', MAX_SNAPSHOT_GROUPS).map((x) => {
    const g = group(x, contacts);
    if (seen.has(toHex(g.id))) throw new DecodeError('a group is in the snapshot twice');
    seen.add(toHex(g.id));
    return g;
  });
}
