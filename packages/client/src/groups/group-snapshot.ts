/**
 * Groups into and out of the account snapshot (snapshot-groups.ts, docs/decisions/0040).
 *
 * Out: for each group, its record's account data (member key, status, names, invitees), the
 * state events as stored, the links named by the identity of the contact or peer behind them
 * (contact ids are this device's own), the hidden peers as identities, and my room door.
 *
 * In (a restored or linked device): the records are written as this device's own, with a sender
 * chain drawn here (never the snapshot's: there is none in it), every event as received, the door
 * card as an invite record of this device, and the links whose contact this device already has.
 * The others wait in `grest.<group>` (RestoredLinks) until a session with that contact or peer
 * exists here (`GroupEngine.linkRestored`); until then the member is a member not reached yet, and
 * what I write to them is owed (decision 0019), sent once the session is bound.
 */
import {
  StorageError,
  asArray,
  asBytes,
  asMap,
  decodeCbor,
  encodeCbor,
  rotateSenderChain,
  encodeSenderChain,
  toHex,
  type Random,
} from '@parus/core';
import { decodeInvite, encodeRecord, type ContactRecord, type InviteRecord } from '../records.ts';
import {
  decodeSnapshotPeer,
  encodeSnapshotPeer,
  withPeerSets,
  type SnapshotGroup,
  type SnapshotGroupPeer,
  type SnapshotRoom,
} from '../snapshot-groups.ts';
import type { Store, StoreOp } from '../store.ts';
import type { Loaded } from './engine-context.ts';
import { GC, GROUP_RECORDS_VERSION, encodeGroupRecord, type GroupRecord } from './group-records.ts';
import { RC, decodeRoomRecord, encodeRoomRecord, type RoomRecord } from './room-records.ts';

const hex = toHex;

/** The account's invite records (account-context.ts C.invites), where a door's card lives. */
const INVITES = 'invites';
/** Links of a restored group still waiting for a session with their contact or peer. */
export const RESTORED_LINKS = 'grest';

export interface RestoredLinks {
  /** Member key → identity (theirIdentity) of the contact or peer that will reach them. */
  links: Array<{ m: Uint8Array; t: Uint8Array }>;
  /** The hidden peers of the group, as the snapshot had them. */
  peers: SnapshotGroupPeer[];
}

export function decodeRestoredLinks(bytes: Uint8Array): RestoredLinks {
  try {
    const m = asMap(decodeCbor(bytes), 'restored links');
    return {
      links: asArray(m.links, 'links', 4096).map((x) => {
        const l = asMap(x, 'link');
        return { m: asBytes(l.m, 'member', { len: 32 }), t: asBytes(l.t, 'identity', { len: 32 }) };
      }),
      peers: asArray(m.peers, 'peers', 4096).map(decodeSnapshotPeer),
    };
  } catch (cause) {
    throw new StorageError('stored restored links are damaged', { cause });
  }
}

export function encodeRestoredLinksRecord(r: RestoredLinks): Uint8Array {
  return encodeCbor({
    links: r.links.map((l) => ({ m: l.m, t: l.t })),
    peers: r.peers.map(encodeSnapshotPeer),
  });
}

/** What the snapshot reads of the account besides the engine's groups. */
export interface SnapshotSource {
  store: Store;
  contactById(id: Uint8Array): ContactRecord | undefined;
  /** Whether the snapshot's contacts section holds this identity (links may name only those). */
  inSnapshot(identity: Uint8Array): boolean;
}

/** The groups section of a snapshot of this account. */
export async function snapshotGroups(
  src: SnapshotSource,
  groups: Iterable<Loaded>,
): Promise<SnapshotGroup[]> {
  const out: SnapshotGroup[] = [];
  for (const l of groups) {
    const g = await snapshotGroup(src, l);
    if (g) out.push(g);
  }
  return out;
}

/** One group as the snapshot has it; none for an invitation whose events have not come. */
export async function snapshotGroup(
  src: SnapshotSource,
  l: Loaded,
  /** The events to put in it (own-group-sync.ts sends them apart); else the stored ones. */
  only?: Uint8Array[],
): Promise<SnapshotGroup | undefined> {
  const rec = l.rec;
  const events = only ?? (await src.store.list(GC.events(rec.id))).map((e) => e.value);
  // An invitation whose events have not come: nothing to restore.
  if (l.events.size === 0 || (!only && events.length === 0)) return undefined;
  const peers = new Map<string, SnapshotGroupPeer>();
  const identityOf = (id: Uint8Array): Uint8Array | undefined => {
    const c = src.contactById(id);
    if (!c) return undefined;
    if (c.peer) {
      const p: SnapshotGroupPeer = { identity: c.identity, theirIdentity: c.theirIdentity, name: c.name };
      if (c.device) p.device = c.device;
      // What another device of mine needs to introduce itself to them (decision 0060).
      peers.set(hex(c.theirIdentity), withPeerSets(p, c));
    }
    return c.theirIdentity;
  };
  const links: SnapshotGroup['links'] = [];
  for (const link of rec.links) {
    const t = identityOf(link.c);
    if (t) links.push({ m: link.m, t });
  }
  // Links not yet made on the device the snapshot is made on (itself restored) travel on.
  const waiting = await src.store.get(RESTORED_LINKS, hex(rec.id));
  if (waiting) {
    const w = decodeRestoredLinks(waiting);
    for (const p of w.peers) if (!peers.has(hex(p.theirIdentity))) peers.set(hex(p.theirIdentity), p);
    for (const link of w.links) {
      if (links.some((x) => hex(x.m) === hex(link.m))) continue;
      // A contact this device holds only as restored (no session yet) is not in the snapshot.
      if (peers.has(hex(link.t)) || src.inSnapshot(link.t)) links.push(link);
    }
  }
  const g: SnapshotGroup = {
    id: rec.id,
    status: rec.status,
    name: rec.name,
    me: rec.me,
    created: rec.created,
    invitees: rec.invitees,
    events,
    links,
    peers: [...peers.values()],
  };
  if (rec.alias !== undefined) g.alias = rec.alias;
  if (rec.nx) g.nx = rec.nx;
  const inviter = rec.inviter ? identityOf(rec.inviter) : undefined;
  if (inviter) g.inviter = inviter;
  const room = await snapshotRoom(src.store, rec.id);
  if (room) g.room = room;
  return g;
}

async function snapshotRoom(store: Store, group: Uint8Array): Promise<SnapshotRoom | undefined> {
  const raw = await store.get(RC.rooms, hex(group));
  if (!raw) return undefined;
  const r = decodeRoomRecord(raw);
  const out: SnapshotRoom = {};
  if (r.door) {
    const inviteRaw = await store.get(INVITES, hex(r.door.id));
    if (inviteRaw) {
      const i = decodeInvite(inviteRaw);
      out.door = {
        s: r.door.s,
        link: r.door.link,
        card: {
          id: i.id,
          link: i.link,
          identity: i.identity,
          prekey: i.prekey,
          kem: i.kem,
          queue: i.queue,
          ...(i.queue2 ? { queue2: i.queue2 } : {}),
          expires: i.expires,
          created: i.created,
        },
      };
    }
  }
  if (r.join) out.join = { k: r.join.k, ...(r.join.nick !== undefined ? { nick: r.join.nick } : {}) };
  return out.door || out.join ? out : undefined;
}

/**
 * The store operations that make the snapshot's groups this device's: records with a fresh
 * sender chain of this device, events, rooms and doors, links to the contacts this device has
 * (`contactOf` by identity) and the others waiting. Groups this device has already are skipped.
 */
export function restoreGroupOps(
  groups: readonly SnapshotGroup[],
  opts: {
    rng: Random;
    now: number;
    has(group: Uint8Array): boolean;
    contactOf(identity: Uint8Array): ContactRecord | undefined;
  },
): { ops: StoreOp[]; doors: InviteRecord[]; records: GroupRecord[] } {
  const ops: StoreOp[] = [];
  const doors: InviteRecord[] = [];
  const records: GroupRecord[] = [];
  for (const g of groups) {
    if (opts.has(g.id)) continue;
    const links: GroupRecord['links'] = [];
    const waiting: RestoredLinks['links'] = [];
    for (const link of g.links) {
      const c = opts.contactOf(link.t);
      if (c) links.push({ m: link.m, c: c.id });
      else waiting.push(link);
    }
    const inviter = g.inviter ? opts.contactOf(g.inviter) : undefined;
    const rec: GroupRecord = {
      id: g.id,
      status: g.status,
      name: g.name,
      me: g.me,
      links,
      invitees: g.invitees,
      intros: [],
      accept: [],
      forwards: [],
      // A chain of this device (decision 0030: never the old device's state); it goes to the
      // members as their sessions with this device come.
      chainAt: opts.now,
      rotate: false,
      created: g.created,
      v: GROUP_RECORDS_VERSION,
    };
    if (g.alias !== undefined) rec.alias = g.alias;
    if (g.nx) rec.nx = g.nx;
    if (inviter) rec.inviter = inviter.id;
    ops.push({ type: 'put', collection: GC.groups, key: hex(g.id), value: encodeGroupRecord(rec) });
    if (g.status === 'joined') {
      const chain = encodeSenderChain(rotateSenderChain(opts.rng));
      ops.push({ type: 'put', collection: GC.chains, key: hex(g.id), value: chain });
      records.push({ ...rec, chain });
    } else records.push(rec);
    for (const e of g.events) {
      // Keyed by event id as the engine keys them (decodeSnapshotGroups checked each one).
      ops.push({ type: 'put', collection: GC.events(g.id), key: eventKey(e), value: e });
    }
    if (waiting.length > 0 || g.peers.length > 0)
      ops.push({
        type: 'put',
        collection: RESTORED_LINKS,
        key: hex(g.id),
        value: encodeRestoredLinksRecord({ links: waiting, peers: g.peers }),
      });
    if (g.room) {
      const room: RoomRecord = { g: g.id };
      if (g.room.door) {
        const card = g.room.door.card;
        room.door = { id: card.id, s: g.room.door.s, link: g.room.door.link };
        const invite: InviteRecord = {
          id: card.id,
          link: card.link,
          identity: card.identity,
          prekey: card.prekey,
          kem: card.kem,
          queue: card.queue,
          ...(card.queue2 ? { queue2: card.queue2 } : {}),
          oneTime: false,
          expires: card.expires,
          created: card.created,
          used: false,
          peer: g.id,
        };
        doors.push(invite);
        ops.push({ type: 'put', collection: INVITES, key: hex(card.id), value: encodeRecord(invite) });
      }
      if (g.room.join) room.join = { ...g.room.join };
      ops.push({ type: 'put', collection: RC.rooms, key: hex(g.id), value: encodeRoomRecord(room) });
    }
  }
  return { ops, doors, records };
}

/** The id of an encoded group event, as its key (the id field of the signed map). */
function eventKey(bytes: Uint8Array): string {
  const m = asMap(decodeCbor(bytes), 'group event');
  return hex(asBytes(m.id, 'group event id', { len: 32 }));
}
