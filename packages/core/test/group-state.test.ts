/**
 * Group state resolution (group-state.ts): scenarios with several members acting concurrently,
 * then property-based checks on seeded random histories: any delivery order gives the same
 * state, and an event's fate at its parents does not depend on what came after it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex, utf8 } from '../src/bytes.ts';
import { decodeCbor, encodeCbor, type CborMap } from '../src/cbor.ts';
import { generateSignKeyPair, hash, initCrypto, sign, type SignKeyPair } from '../src/crypto.ts';
import { ParusError, ProtocolError, UsageError, VerificationError } from '../src/errors.ts';
import {
  createGroup,
  createGroupEvent,
  decodeGroupEvent,
  encodeGroupEvent,
  defaultGroupSettings,
  memberKeyChange,
  memberKeyCommitment,
  GROUP_ROLE_POWER,
  type GroupAction,
  type GroupEvent,
  type GroupEventContents,
  type GroupEventType,
  type GroupSettings,
} from '../src/group-event.ts';
import {
  MAX_GROUP_LAMPORT_JUMP,
  groupCan,
  groupMemberPower,
  resolveGroupState,
  type GroupRejectionReason,
  type GroupState,
} from '../src/group-state.ts';
import { scriptedRandom, seededInts } from './contact-test-helpers.ts';
import { samplePng } from './image-samples.ts';
import legacy from './vectors/group-legacy-create.json' with { type: 'json' };

const rng = scriptedRandom('group-state');
const TS = 1_750_000_000_000;
const hex = (k: SignKeyPair | Uint8Array): string => toHex(k instanceof Uint8Array ? k : k.publicKey);

let creator: SignKeyPair;
let admin: SignKeyPair;
let mod: SignKeyPair;
let carol: SignKeyPair;
let dave: SignKeyPair;
let eve: SignKeyPair;

beforeAll(async () => {
  await initCrypto();
  [creator, admin, mod, carol, dave, eve] = Array.from({ length: 6 }, () => generateSignKeyPair(rng)) as [
    SignKeyPair,
    SignKeyPair,
    SignKeyPair,
    SignKeyPair,
    SignKeyPair,
    SignKeyPair,
  ];
});

/** Builds events of one group; each takes its parents' highest clock plus one unless told. */
class History {
  readonly create: GroupEvent;
  readonly events: GroupEvent[] = [];

  constructor(settings: GroupSettings = defaultGroupSettings(), name = 'Parus') {
    this.create = createGroup({ author: creator, name, settings, ts: TS, rng });
    this.events.push(this.create);
  }

  add<T extends Exclude<GroupEventType, 'create'>>(
    author: SignKeyPair,
    type: T,
    content: GroupEventContents[T],
    parents: readonly GroupEvent[] = [this.events[this.events.length - 1]!],
    lamport?: number,
  ): GroupEvent {
    const event = createGroupEvent({
      author,
      group: this.create.group,
      parents: parents.map((p) => p.id),
      lamport: lamport ?? Math.max(...parents.map((p) => p.lamport)) + 1,
      ts: TS + this.events.length,
      type,
      content,
    }) as GroupEvent;
    this.events.push(event);
    return event;
  }

  /** create → invites → joins → roles: creator, admin, moderator, carol and dave as members. */
  static populated(settings?: GroupSettings): { h: History; tip: GroupEvent } {
    const h = new History(settings);
    for (const k of [admin, mod, carol, dave]) h.add(creator, 'invite', { member: k.publicKey });
    for (const k of [admin, mod, carol, dave]) h.add(k, 'join', {});
    h.add(creator, 'role', { member: admin.publicKey, role: 'admin' });
    const tip = h.add(creator, 'role', { member: mod.publicKey, role: 'moderator' });
    return { h, tip };
  }

  resolve(): GroupState {
    return resolveGroupState(this.events);
  }
}

function reasonOf(state: GroupState, event: GroupEvent): GroupRejectionReason | undefined {
  return state.rejected.find((r) => toHex(r.id) === toHex(event.id))?.reason;
}

/** A plain, order-free description of a state, for comparing resolutions. */
function canon(s: GroupState): unknown {
  return {
    group: toHex(s.group),
    create: toHex(s.create),
    creator: toHex(s.creator),
    members: [...s.members].map(([k, m]) => [
      k,
      toHex(m.key),
      m.role,
      m.joinedAt,
      m.nick ?? null,
      m.status ?? null,
    ]),
    invited: [...s.invited],
    banned: [...s.banned],
    name: s.name,
    topic: s.topic,
    avatar: s.avatar === null ? null : toHex(s.avatar),
    pinned: s.pinned === null ? null : [s.pinned.text, s.pinned.message ? toHex(s.pinned.message) : null],
    settings: s.settings,
    heads: s.heads.map(toHex),
    lamport: s.lamport,
    rejected: s.rejected.map((r) => [toHex(r.id), r.reason, r.detail]),
  };
}

describe('group state: a linear history', () => {
  it('gives members, roles, names, nicks and statuses', () => {
    const { h } = History.populated();
    h.add(mod, 'topic', { topic: 'birds' });
    h.add(admin, 'name', { name: 'Paridae' });
    h.add(carol, 'nick', { nick: 'carol' });
    h.add(carol, 'status', { status: 'busy' });
    h.add(carol, 'nick', { nick: 'caz' });
    h.add(mod, 'pin', { pin: { text: 'read the rules' } });
    h.add(admin, 'avatar', { avatar: samplePng(96, 96) });
    h.add(creator, 'invite', { member: eve.publicKey });
    const s = h.resolve();
    expect(s.rejected).toEqual([]);
    expect(toHex(s.creator)).toBe(hex(creator));
    expect([...s.members.keys()]).toEqual([creator, admin, mod, carol, dave].map(hex).sort());
    expect(s.members.get(hex(creator))?.role).toBe('creator');
    expect(s.members.get(hex(admin))?.role).toBe('admin');
    expect(s.members.get(hex(mod))?.role).toBe('moderator');
    expect(s.members.get(hex(carol))).toMatchObject({ role: 'member', nick: 'caz', status: 'busy' });
    expect(s.members.get(hex(carol))?.joinedAt).toBe(7);
    expect([...s.invited]).toEqual([hex(eve)]);
    expect(s.topic).toBe('birds');
    expect(s.name).toBe('Paridae');
    expect(s.pinned).toEqual({ text: 'read the rules' });
    expect(s.avatar).toEqual(samplePng(96, 96));
    expect(s.heads.map(toHex)).toEqual([toHex(h.events[h.events.length - 1]!.id)]);
    expect(s.lamport).toBe(h.events.length - 1);
    expect(groupMemberPower(s, admin.publicKey)).toBe(75);
    expect(groupCan(s, mod.publicKey, 'kick')).toBe(true);
    expect(groupCan(s, carol.publicKey, 'kick')).toBe(false);
    expect(groupCan(s, eve.publicKey, 'message')).toBe(false);
  });

  it('lets a member leave, be kicked, be banned and unbanned; the creator comes back as creator', () => {
    const { h } = History.populated();
    h.add(carol, 'nick', { nick: 'old' });
    h.add(carol, 'leave', {});
    h.add(mod, 'kick', { member: dave.publicKey, reason: 'spam' });
    h.add(mod, 'ban', { member: eve.publicKey });
    let s = h.resolve();
    expect(s.members.has(hex(carol))).toBe(false);
    expect(s.members.has(hex(dave))).toBe(false);
    expect([...s.banned]).toEqual([hex(eve)]);
    // Carol comes back: her nick from before does not.
    h.add(admin, 'invite', { member: carol.publicKey });
    h.add(carol, 'join', {});
    h.add(mod, 'unban', { member: eve.publicKey });
    h.add(creator, 'leave', {});
    h.add(admin, 'invite', { member: creator.publicKey });
    h.add(creator, 'join', {});
    s = h.resolve();
    expect(s.rejected).toEqual([]);
    expect(s.members.get(hex(carol))).toEqual({ key: carol.publicKey, role: 'member', joinedAt: 16 });
    expect(s.banned.size).toBe(0);
    expect(s.members.get(hex(creator))?.role).toBe('creator');
  });

  it('lets anyone join a public room without an invitation, but not a private group', () => {
    const pub = new History(defaultGroupSettings({ public: true }));
    const joined = pub.add(eve, 'join', {});
    expect(pub.resolve().members.has(hex(eve))).toBe(true);
    expect(reasonOf(pub.resolve(), joined)).toBeUndefined();
    const priv = new History();
    const refused = priv.add(eve, 'join', {});
    expect(reasonOf(priv.resolve(), refused)).toBe('unauthorised');
    expect(priv.resolve().members.has(hex(eve))).toBe(false);
  });
});

describe('group state: unauthorised and forged events', () => {
  it('rejects a member who bans, a moderator who promotes to admin, a banned key that rejoins', () => {
    const { h, tip } = History.populated();
    const memberBan = h.add(carol, 'ban', { member: dave.publicKey }, [tip]);
    const modPromotes = h.add(mod, 'role', { member: carol.publicKey, role: 'admin' }, [tip]);
    const ban = h.add(mod, 'ban', { member: dave.publicKey }, [tip]);
    const invite = h.add(carol, 'invite', { member: dave.publicKey }, [ban]);
    const rejoin = h.add(dave, 'join', {}, [ban]);
    const modKicksAdmin = h.add(mod, 'kick', { member: admin.publicKey }, [tip]);
    const adminRaisesSettings = h.add(
      admin,
      'settings',
      {
        settings: { ...defaultGroupSettings(), power: { ...defaultGroupSettings().power, ban: 100 } },
      },
      [tip],
    );
    const selfPromotion = h.add(mod, 'role', { member: mod.publicKey, role: 'admin' }, [tip]);
    const outsiderTopic = h.add(eve, 'topic', { topic: 'hi' }, [tip]);
    const s = h.resolve();
    for (const e of [
      memberBan,
      modPromotes,
      invite,
      rejoin,
      modKicksAdmin,
      adminRaisesSettings,
      selfPromotion,
      outsiderTopic,
    ]) {
      expect(reasonOf(s, e)).toBe('unauthorised');
    }
    expect(reasonOf(s, ban)).toBeUndefined();
    expect(s.members.has(hex(dave))).toBe(false);
    expect(s.banned.has(hex(dave))).toBe(true);
    expect(s.members.get(hex(carol))?.role).toBe('member');
  });

  it('lets a moderator promote when the group allows it, but never above the moderator', () => {
    const settings = defaultGroupSettings();
    const { h, tip } = History.populated({ ...settings, power: { ...settings.power, role: 50 } });
    const toAdmin = h.add(mod, 'role', { member: carol.publicKey, role: 'admin' }, [tip]);
    const toModerator = h.add(mod, 'role', { member: dave.publicKey, role: 'moderator' }, [tip]);
    const s = h.resolve();
    expect(reasonOf(s, toAdmin)).toBe('unauthorised');
    expect(reasonOf(s, toModerator)).toBeUndefined();
    expect(s.members.get(hex(dave))?.role).toBe('moderator');
  });

  it('judges an event by the state at its parents, not by the final state', () => {
    const { h, tip } = History.populated();
    // Carol is promoted, but her concurrent ban was made while she was a plain member.
    h.add(creator, 'role', { member: carol.publicKey, role: 'admin' }, [tip]);
    const ban = h.add(carol, 'ban', { member: dave.publicKey }, [tip]);
    const s = h.resolve();
    expect(s.members.get(hex(carol))?.role).toBe('admin');
    expect(reasonOf(s, ban)).toBe('unauthorised');
    expect(s.members.has(hex(dave))).toBe(true);
  });

  it('rejects forged events and what hangs from them, events of other groups, orphans and bad clocks', () => {
    const { h, tip } = History.populated();
    const genuine = h.add(carol, 'nick', { nick: 'carol' }, [tip]);
    const forgedContent = { ...genuine, content: { nick: 'mallory' } } as GroupEvent;
    const kick = h.add(mod, 'kick', { member: carol.publicKey }, [tip]);
    const forgedSig = { ...kick, id: new Uint8Array(32).fill(7), sig: new Uint8Array(64) } as GroupEvent;
    const child = createGroupEvent({
      author: admin,
      group: h.create.group,
      parents: [forgedSig.id],
      lamport: 20,
      ts: TS,
      type: 'topic',
      content: { topic: 'x' },
    });
    const orphan = createGroupEvent({
      author: admin,
      group: h.create.group,
      parents: [new Uint8Array(32).fill(9)],
      lamport: 20,
      ts: TS,
      type: 'topic',
      content: { topic: 'y' },
    });
    const badClock = h.add(admin, 'topic', { topic: 'z' }, [tip], tip.lamport);
    const other = new History();
    const otherTopic = other.add(creator, 'topic', { topic: 'elsewhere' });
    const events = [
      ...h.events.filter((e) => e !== genuine && e !== kick),
      forgedContent,
      forgedSig,
      child,
      orphan,
      other.create,
      otherTopic,
    ];
    const s = resolveGroupState(events, { group: h.create.group });
    expect(reasonOf(s, forgedContent)).toBe('forged');
    expect(reasonOf(s, forgedSig)).toBe('forged');
    expect(reasonOf(s, child)).toBe('orphan');
    expect(reasonOf(s, orphan)).toBe('orphan');
    expect(reasonOf(s, badClock)).toBe('clock');
    expect(reasonOf(s, otherTopic)).toBe('other-group');
    expect(reasonOf(s, other.create)).toBe('other-group');
    expect(s.members.get(hex(carol))?.nick).toBeUndefined();
    expect(s.members.has(hex(carol))).toBe(true);
    expect(s.topic).toBe('');
    // A genuine copy next to a forged one wins, whatever the order.
    const honest = h.events.filter((e) => e !== kick && e !== badClock);
    const both = resolveGroupState([...honest, forgedContent]);
    expect(reasonOf(both, genuine)).toBeUndefined();
    expect(both.rejected).toEqual([]);
    expect(both.members.get(hex(carol))?.nick).toBe('carol');
    expect(canon(resolveGroupState([forgedContent, ...honest]))).toEqual(canon(both));
  });

  it('refuses input it cannot resolve', () => {
    const { h } = History.populated();
    expect(() => resolveGroupState(h.events.slice(1))).toThrow(ProtocolError);
    expect(() => resolveGroupState([...h.events, new History().create])).toThrow(ProtocolError);
    expect(() => resolveGroupState(h.events, { group: new Uint8Array(16) })).toThrow(ProtocolError);
    expect(() => resolveGroupState(h.events, { group: new Uint8Array(3) })).toThrow(UsageError);
    expect(() => resolveGroupState([{} as GroupEvent])).toThrow(UsageError);
    expect(() => resolveGroupState('x' as unknown as GroupEvent[])).toThrow(UsageError);
  });
});

describe('group state: concurrent conflicts', () => {
  it('concurrent ban and promote: the creator’s ban beats the admin’s promotion', () => {
    const { h, tip } = History.populated();
    const promote = h.add(admin, 'role', { member: carol.publicKey, role: 'admin' }, [tip]);
    const ban = h.add(creator, 'ban', { member: carol.publicKey }, [tip]);
    const s = h.resolve();
    expect(reasonOf(s, ban)).toBeUndefined();
    expect(reasonOf(s, promote)).toBe('conflict');
    expect(s.members.has(hex(carol))).toBe(false);
    expect(s.banned.has(hex(carol))).toBe(true);
  });

  it('concurrent ban and promote: the creator’s promotion beats the admin’s ban', () => {
    const { h, tip } = History.populated();
    const ban = h.add(admin, 'ban', { member: carol.publicKey }, [tip]);
    // A lower clock does not help the lower power: the promotion has the higher clock here.
    const promote = h.add(
      creator,
      'role',
      { member: carol.publicKey, role: 'admin' },
      [tip],
      tip.lamport + 5,
    );
    const s = h.resolve();
    expect(reasonOf(s, promote)).toBeUndefined();
    expect(reasonOf(s, ban)).toBe('conflict');
    expect(s.members.get(hex(carol))?.role).toBe('admin');
    expect(s.banned.size).toBe(0);
  });

  it('admin against moderator: a concurrent demotion voids the moderator’s kick and topic', () => {
    const { h, tip } = History.populated();
    const demote = h.add(admin, 'role', { member: mod.publicKey, role: 'member' }, [tip]);
    const kick = h.add(mod, 'kick', { member: carol.publicKey }, [tip]);
    const topic = h.add(mod, 'topic', { topic: 'mine' }, [kick]);
    const s = h.resolve();
    expect(reasonOf(s, demote)).toBeUndefined();
    expect(reasonOf(s, kick)).toBe('conflict');
    expect(reasonOf(s, topic)).toBe('conflict');
    expect(s.members.has(hex(carol))).toBe(true);
    expect(s.members.get(hex(mod))?.role).toBe('member');
    expect(s.topic).toBe('');
  });

  it('admin against moderator: the moderator cannot act on the admin, even concurrently', () => {
    const { h, tip } = History.populated();
    const modBansAdmin = h.add(mod, 'ban', { member: admin.publicKey }, [tip]);
    const adminBansMod = h.add(admin, 'ban', { member: mod.publicKey }, [tip]);
    const s = h.resolve();
    expect(reasonOf(s, modBansAdmin)).toBe('unauthorised');
    expect(reasonOf(s, adminBansMod)).toBeUndefined();
    expect(s.banned.has(hex(mod))).toBe(true);
  });

  it('a later demotion does not undo what the moderator did before it', () => {
    const { h } = History.populated();
    h.add(mod, 'topic', { topic: 'before' });
    h.add(mod, 'kick', { member: dave.publicKey });
    h.add(admin, 'role', { member: mod.publicKey, role: 'member' });
    const s = h.resolve();
    expect(s.rejected).toEqual([]);
    expect(s.topic).toBe('before');
    expect(s.members.has(hex(dave))).toBe(false);
  });

  it('a kick racing the kicked member’s nick and status changes wins, however long their branch', () => {
    const { h, tip } = History.populated();
    h.add(carol, 'nick', { nick: 'before' }, [tip]);
    const fork = h.events[h.events.length - 1]!;
    const kick = h.add(mod, 'kick', { member: carol.publicKey }, [fork]);
    const nick1 = h.add(carol, 'nick', { nick: 'one' }, [fork]);
    const status = h.add(carol, 'status', { status: 'away' }, [nick1]);
    const nick2 = h.add(carol, 'nick', { nick: 'two' }, [status], 50);
    const s = h.resolve();
    expect(reasonOf(s, kick)).toBeUndefined();
    for (const e of [nick1, status, nick2]) expect(reasonOf(s, e)).toBe('conflict');
    expect(s.members.has(hex(carol))).toBe(false);
    // Carol is re-invited and rejoins after seeing both branches: her old nick does not return.
    const invite = h.add(admin, 'invite', { member: carol.publicKey }, [kick, nick2]);
    h.add(carol, 'join', {}, [invite]);
    const back = h.resolve();
    expect(back.members.get(hex(carol))).toEqual({ key: carol.publicKey, role: 'member', joinedAt: 52 });
  });

  it('a kick racing a join: the moderator’s kick of an invitation beats the invitee’s join', () => {
    const { h, tip } = History.populated();
    const invite = h.add(carol, 'invite', { member: eve.publicKey }, [tip]);
    const kick = h.add(mod, 'kick', { member: eve.publicKey }, [invite]);
    const join = h.add(eve, 'join', {}, [invite]);
    const s = h.resolve();
    expect(reasonOf(s, kick)).toBeUndefined();
    expect(reasonOf(s, join)).toBe('conflict');
    expect(s.members.has(hex(eve))).toBe(false);
    expect(s.invited.has(hex(eve))).toBe(false);
  });

  it('topic races: higher power first, then the later clock, then the smaller id', () => {
    const { h, tip } = History.populated();
    h.add(creator, 'role', { member: carol.publicKey, role: 'moderator' }, [tip]);
    const base = h.events[h.events.length - 1]!;
    // Admin against moderator: the admin wins although the moderator's clock is later.
    h.add(admin, 'topic', { topic: 'admin' }, [base]);
    h.add(mod, 'topic', { topic: 'moderator' }, [base], base.lamport + 9);
    expect(h.resolve().topic).toBe('admin');

    // Equal power: the later clock wins.
    const { h: h2, tip: tip2 } = History.populated();
    h2.add(creator, 'role', { member: carol.publicKey, role: 'moderator' }, [tip2]);
    const base2 = h2.events[h2.events.length - 1]!;
    h2.add(mod, 'topic', { topic: 'early' }, [base2]);
    h2.add(carol, 'topic', { topic: 'late' }, [base2], base2.lamport + 3);
    expect(h2.resolve().topic).toBe('late');

    // Equal power and clock: the smaller id wins.
    const { h: h3, tip: tip3 } = History.populated();
    h3.add(creator, 'role', { member: carol.publicKey, role: 'moderator' }, [tip3]);
    const base3 = h3.events[h3.events.length - 1]!;
    const a = h3.add(mod, 'topic', { topic: 'a' }, [base3]);
    const b = h3.add(carol, 'topic', { topic: 'b' }, [base3]);
    const smaller = toHex(a.id) < toHex(b.id) ? 'a' : 'b';
    expect(h3.resolve().topic).toBe(smaller);

    // A topic set after seeing another one replaces it, whoever wrote either.
    const { h: h4 } = History.populated();
    h4.add(admin, 'topic', { topic: 'admin' });
    h4.add(mod, 'topic', { topic: 'moderator, later' });
    expect(h4.resolve().topic).toBe('moderator, later');
  });

  it('a settings change racing a topic: the raised requirement voids the concurrent topic', () => {
    const { h, tip } = History.populated();
    const settings = defaultGroupSettings();
    h.add(creator, 'settings', { settings: { ...settings, power: { ...settings.power, topic: 75 } } }, [tip]);
    const topic = h.add(mod, 'topic', { topic: 'too late' }, [tip]);
    const s = h.resolve();
    expect(reasonOf(s, topic)).toBe('conflict');
    expect(s.settings.power.topic).toBe(75);
    expect(s.topic).toBe('');
  });

  it('merges fork heads and reports them', () => {
    const { h, tip } = History.populated();
    const a = h.add(carol, 'nick', { nick: 'c' }, [tip]);
    const b = h.add(dave, 'nick', { nick: 'd' }, [tip]);
    expect(h.resolve().heads.map(toHex)).toEqual([a.id, b.id].map(toHex).sort());
    const merge = h.add(admin, 'topic', { topic: 'merged' }, [a, b]);
    const s = h.resolve();
    expect(s.heads.map(toHex)).toEqual([toHex(merge.id)]);
    expect(s.lamport).toBe(merge.lamport);
    expect(s.members.get(hex(carol))?.nick).toBe('c');
    expect(s.members.get(hex(dave))?.nick).toBe('d');
  });
});

describe('group state: attacks (issue 11)', () => {
  it('a banned moderator’s backdated kick and ban do not stick, whatever unrelated events came first', () => {
    const { h, tip } = History.populated();
    // Carol invites Eve, Eve joins, and only then the admin bans the moderator.
    const invite = h.add(carol, 'invite', { member: eve.publicKey }, [tip]);
    const join = h.add(eve, 'join', {}, [invite]);
    const ban = h.add(admin, 'ban', { member: mod.publicKey }, [join]);
    // The moderator, banned, attaches a kick of Dave and a ban of Carol to the old tip.
    const kick = h.add(mod, 'kick', { member: dave.publicKey }, [tip]);
    const banCarol = h.add(mod, 'ban', { member: carol.publicKey }, [kick]);
    const s = h.resolve();
    for (const e of [invite, join, ban]) expect(reasonOf(s, e)).toBeUndefined();
    expect(reasonOf(s, kick)).toBe('conflict');
    expect(reasonOf(s, banCarol)).toBe('conflict');
    expect(s.members.has(hex(dave))).toBe(true);
    expect(s.members.has(hex(carol))).toBe(true);
    expect(s.banned.has(hex(carol))).toBe(false);
    expect(s.banned.has(hex(mod))).toBe(true);
    expect(s.heads.map(toHex)).toEqual([toHex(ban.id)]);
    // The same with a demotion, and with the acts hung below the admin's own promotion.
    const h2 = new History();
    for (const k of [admin, mod, carol, dave]) h2.add(creator, 'invite', { member: k.publicKey });
    for (const k of [admin, mod, carol, dave]) h2.add(k, 'join', {});
    const modRole = h2.add(creator, 'role', { member: mod.publicKey, role: 'moderator' });
    h2.add(creator, 'role', { member: admin.publicKey, role: 'admin' });
    h2.add(dave, 'invite', { member: eve.publicKey });
    h2.add(eve, 'join', {});
    const demote = h2.add(admin, 'role', { member: mod.publicKey, role: 'member' });
    const kick2 = h2.add(mod, 'kick', { member: dave.publicKey }, [modRole]);
    const topic = h2.add(mod, 'topic', { topic: 'mine' }, [kick2]);
    const s2 = h2.resolve();
    expect(reasonOf(s2, demote)).toBeUndefined();
    expect(reasonOf(s2, kick2)).toBe('conflict');
    expect(reasonOf(s2, topic)).toBe('conflict');
    expect(s2.members.has(hex(dave))).toBe(true);
    expect(s2.members.get(hex(mod))?.role).toBe('member');
  });

  it('a group picture: only who may change the name sets it; a removed admin’s late change never sticks, in any order', () => {
    const { h, tip } = History.populated();
    const first = h.add(admin, 'avatar', { avatar: samplePng(64, 64) }, [tip]);
    const byMod = h.add(mod, 'avatar', { avatar: samplePng(8, 8) }, [first]); // topic power, not name power
    const byMember = h.add(carol, 'avatar', { avatar: samplePng(9, 9) }, [first]);
    const kick = h.add(creator, 'kick', { member: admin.publicKey }, [first]);
    const late = h.add(admin, 'avatar', { avatar: samplePng(10, 10) }, [first], kick.lamport + 5); // concurrent
    const after = h.add(admin, 'avatar', { avatar: samplePng(11, 11) }, [kick]); // after its removal
    const removed = h.add(admin, 'avatar', { avatar: null }, [late]);
    const s = h.resolve();
    expect(reasonOf(s, first)).toBeUndefined();
    expect(reasonOf(s, byMod)).toBe('unauthorised');
    expect(reasonOf(s, byMember)).toBe('unauthorised');
    expect(reasonOf(s, late)).toBe('conflict');
    expect(reasonOf(s, after)).toBe('unauthorised');
    expect(reasonOf(s, removed)).toBe('conflict');
    expect(s.avatar).toEqual(samplePng(64, 64));
    // Every delivery order, with duplicates, gives the same picture and the same refusals.
    const next = seededInts(66);
    const expected = canon(s);
    for (let round = 0; round < 100; round++) {
      const order = shuffled(h.events, next);
      for (let d = next(4); d > 0; d--) order.splice(next(order.length + 1), 0, pick(order, next));
      expect(canon(resolveGroupState(order))).toEqual(expected);
    }
    // An admin may take the picture down; the creator may set one as well.
    const h2 = History.populated().h;
    h2.add(admin, 'avatar', { avatar: samplePng(64, 64) });
    h2.add(admin, 'avatar', { avatar: null });
    expect(h2.resolve().avatar).toBeNull();
    h2.add(creator, 'avatar', { avatar: samplePng(128, 128) });
    expect(h2.resolve().avatar).toEqual(samplePng(128, 128));
  });

  it('a backdated act stands when someone with more power built on it before the removal', () => {
    const { h, tip } = History.populated();
    const kick = h.add(mod, 'kick', { member: dave.publicKey }, [tip]);
    // The creator saw the kick (and nothing of the ban) and acted after it.
    const endorsed = h.add(creator, 'invite', { member: eve.publicKey }, [kick]);
    const ban = h.add(admin, 'ban', { member: mod.publicKey }, [tip]);
    const s = h.resolve();
    for (const e of [kick, endorsed, ban]) expect(reasonOf(s, e)).toBeUndefined();
    expect(s.members.has(hex(dave))).toBe(false);
    expect(s.banned.has(hex(mod))).toBe(true);
  });

  it('the creator cannot swap the create: a second create with the same nonce names another group', () => {
    const { h, tip } = History.populated();
    h.add(creator, 'name', { name: 'Parus' }, [tip]);
    const first = h.create as GroupEvent & { type: 'create' };
    const sameNonce = { bytes: (n: number) => first.content.nonce.slice(0, n) };
    // Whichever id is smaller, the second create never replaces the first.
    for (const name of ['Wiped', 'Wiped again', 'Wiped once more']) {
      const second = createGroup({ author: creator, name, ts: TS, rng: sameNonce });
      expect(toHex(second.group)).not.toBe(toHex(h.create.group));
      const s = resolveGroupState([...h.events, second], { group: h.create.group });
      expect(reasonOf(s, second)).toBe('other-group');
      expect(s.members.size).toBe(5);
      expect(s.name).toBe('Parus');
      expect(toHex(s.create)).toBe(toHex(h.create.id));
      expect(() => resolveGroupState([...h.events, second])).toThrow(ProtocolError);
    }
  });

  it('a group made before the binding resolves, and its creator’s second create is refused', () => {
    const events = legacy.events.map((e) => decodeGroupEvent(fromHex(e)));
    const s = resolveGroupState(events);
    expect(toHex(s.group)).toBe(legacy.group);
    expect([...s.members.keys()]).toEqual([legacy.creatorPublic, legacy.carolPublic].sort());
    expect(s.name).toBe('Legacy');
    const second = decodeGroupEvent(fromHex(legacy.secondCreate));
    expect(toHex(second.group)).toBe(legacy.group);
    expect(() => resolveGroupState([...events, second])).toThrow(ProtocolError);
    expect(() => resolveGroupState([second, ...events], { group: fromHex(legacy.group) })).toThrow(
      ProtocolError,
    );
  });

  it('a refused event moves neither the heads nor the clock, whatever clock it claims', () => {
    const { h, tip } = History.populated();
    const before = h.resolve();
    const far = (author: SignKeyPair, lamport: number, type: 'topic' | 'nick'): GroupEvent =>
      createGroupEvent({
        author,
        group: h.create.group,
        parents: [tip.id],
        lamport,
        ts: TS,
        type,
        content: (type === 'topic' ? { topic: 'x' } : { nick: 'x' }) as GroupEventContents['topic'],
      }) as GroupEvent;
    // A stranger's events: one at 2^53 − 1 (beyond the jump), one at a modest clock (unauthorised),
    // and a member's at 2^53 − 1.
    const huge = far(eve, Number.MAX_SAFE_INTEGER, 'nick');
    const stranger = far(eve, tip.lamport + 5, 'topic');
    const memberHuge = far(carol, Number.MAX_SAFE_INTEGER, 'nick');
    const s = resolveGroupState([...h.events, huge, stranger, memberHuge]);
    expect(reasonOf(s, huge)).toBe('clock');
    expect(reasonOf(s, memberHuge)).toBe('clock');
    expect(reasonOf(s, stranger)).toBe('unauthorised');
    expect(s.heads.map(toHex)).toEqual(before.heads.map(toHex));
    expect(s.lamport).toBe(before.lamport);
    // The group can still sign its next event, and a merge naming a refused event counts.
    const next = createGroupEvent({
      author: carol,
      group: h.create.group,
      parents: [...s.heads, stranger.id],
      lamport: s.lamport + 6,
      ts: TS,
      type: 'nick',
      content: { nick: 'carol' },
    }) as GroupEvent;
    const after = resolveGroupState([...h.events, huge, stranger, memberHuge, next]);
    expect(reasonOf(after, next)).toBeUndefined();
    expect(after.heads.map(toHex)).toEqual([toHex(next.id)]);
    expect(after.lamport).toBe(next.lamport);
    // A jump of exactly the bound is allowed; one more is not.
    const atBound = far(carol, tip.lamport + MAX_GROUP_LAMPORT_JUMP, 'nick');
    const beyond = far(dave, tip.lamport + MAX_GROUP_LAMPORT_JUMP + 1, 'nick');
    const bounded = resolveGroupState([...h.events, atBound, beyond]);
    expect(reasonOf(bounded, atBound)).toBeUndefined();
    expect(reasonOf(bounded, beyond)).toBe('clock');
    expect(bounded.lamport).toBe(atBound.lamport);
  });

  it('a member may lower their own role, never raise it; the creator’s role is fixed', () => {
    const { h, tip } = History.populated();
    const modDown = h.add(mod, 'role', { member: mod.publicKey, role: 'member' }, [tip]);
    const adminDown = h.add(admin, 'role', { member: admin.publicKey, role: 'moderator' }, [tip]);
    const adminUp = h.add(admin, 'role', { member: admin.publicKey, role: 'admin' }, [tip]);
    const carolUp = h.add(carol, 'role', { member: carol.publicKey, role: 'moderator' }, [tip]);
    const creatorDown = h.add(creator, 'role', { member: creator.publicKey, role: 'admin' }, [tip]);
    const s = h.resolve();
    expect(reasonOf(s, modDown)).toBeUndefined();
    expect(reasonOf(s, adminDown)).toBeUndefined();
    for (const e of [adminUp, carolUp, creatorDown]) expect(reasonOf(s, e)).toBe('unauthorised');
    expect(s.members.get(hex(mod))?.role).toBe('member');
    expect(s.members.get(hex(admin))?.role).toBe('moderator');
    expect(s.members.get(hex(creator))?.role).toBe('creator');
    // Stepping down needs no power to change roles: a moderator steps down where only admins
    // may change roles, and then cannot come back up.
    const again = h.add(mod, 'role', { member: mod.publicKey, role: 'moderator' }, [modDown]);
    expect(reasonOf(h.resolve(), again)).toBe('unauthorised');
  });

  it('malformed event objects are refused as malformed or with a typed error, never a TypeError', () => {
    const { h, tip } = History.populated();
    const good = h.add(carol, 'nick', { nick: 'carol' }, [tip]);
    const withNullParents = { ...good, parents: null } as unknown as GroupEvent;
    const s = resolveGroupState([...h.events.filter((e) => e !== good), withNullParents]);
    expect(reasonOf(s, withNullParents)).toBe('malformed');
    expect(s.members.size).toBe(5);
    // Random junk in every field of real events: a state with rejections, or a ParusError.
    const next = seededInts(11);
    const junk: unknown[] = [
      null,
      undefined,
      0,
      -1,
      2 ** 60,
      Number.NaN,
      '',
      'x',
      [],
      [null],
      {},
      { a: 1 },
      new Uint8Array(0),
      new Uint8Array(32),
      Symbol('s'),
      () => 1,
    ];
    const fields = ['v', 'group', 'id', 'author', 'parents', 'lamport', 'ts', 'type', 'content', 'sig'];
    for (let round = 0; round < 400; round++) {
      const victim = h.events[next(h.events.length)]!;
      const broken: Record<string, unknown> = { ...victim };
      for (let k = 1 + next(2); k > 0; k--) broken[pick(fields, next)] = pick(junk, next);
      if (next(3) === 0)
        broken.content = { ...(victim.content as object), [pick(['member', 'x'], next)]: pick(junk, next) };
      const input = h.events.map((e) => (e === victim ? (broken as unknown as GroupEvent) : e));
      let thrown: unknown;
      try {
        resolveGroupState(input);
      } catch (error) {
        thrown = error;
      }
      if (thrown !== undefined) expect(thrown).toBeInstanceOf(ParusError);
    }
    const throwing = Object.defineProperty({}, 'id', {
      get: () => {
        throw new Error('no id');
      },
    });
    for (const bad of [null, undefined, 7, 'x', [], {}, throwing]) {
      expect(() => resolveGroupState([...h.events, bad as unknown as GroupEvent])).toThrow(UsageError);
    }
    expect(() => resolveGroupState(h.events, null as unknown as { group?: Uint8Array })).toThrow(UsageError);
  });
});

// ---- Property-based ---------------------------------------------------------------------------

/**
 * A seeded random history: 5–8 members acting on three replicas that fork and merge, each
 * event made from the replica's resolved state (so most are plausible) with random authors,
 * targets and types (so many are not), plus a few forged events, orphans and bad clocks.
 */
function randomHistory(seed: number, steps: number): { events: GroupEvent[]; group: Uint8Array } {
  const next = seededInts(seed);
  const pick = <T>(items: readonly T[]): T => items[next(items.length)]!;
  const keyRng = scriptedRandom(`group-state property ${seed}`);
  const people = Array.from({ length: 5 + next(4) }, () => generateSignKeyPair(keyRng));
  const owner = people[0]!;
  const settings = defaultGroupSettings({ public: next(4) === 0 });
  const create = createGroup({ author: owner, name: 'prop', settings, ts: TS, rng: keyRng });
  const all: GroupEvent[] = [create];
  const replicas: GroupEvent[][] = [[create], [create], [create]];
  const types: Array<Exclude<GroupEventType, 'create'>> = [
    'invite',
    'invite',
    'invite',
    'join',
    'join',
    'join',
    'leave',
    'kick',
    'ban',
    'unban',
    'role',
    'role',
    'topic',
    'name',
    'avatar',
    'settings',
    'status',
    'nick',
    'nick',
    'pin',
  ];
  const roles = ['admin', 'moderator', 'member'] as const;
  for (let step = 0; step < steps; step++) {
    if (next(6) === 0) {
      const [r1, r2] = [next(3), next(3)];
      const union = new Map([...replicas[r1]!, ...replicas[r2]!].map((e) => [toHex(e.id), e]));
      replicas[r1] = [...union.values()];
      continue;
    }
    const replica = replicas[next(3)]!;
    const state = resolveGroupState(replica);
    const isMember = (p: SignKeyPair): boolean => state.members.has(toHex(p.publicKey));
    const members = people.filter(isMember);
    const outsiders = people.filter((p) => !isMember(p));
    const joinable = outsiders.filter(
      (p) =>
        state.invited.has(toHex(p.publicKey)) ||
        (state.settings.public && !state.banned.has(toHex(p.publicKey))),
    );
    const wild = next(6) === 0; // a random author, type and target: often not allowed
    let author: SignKeyPair;
    let type: Exclude<GroupEventType, 'create'>;
    let target: Uint8Array;
    if (wild || members.length === 0) {
      author = pick(people);
      type = pick(types);
      target = pick(people).publicKey;
    } else if (joinable.length > 0 && next(2) === 0) {
      author = pick(joinable);
      type = 'join';
      target = author.publicKey;
    } else {
      author = pick(members);
      const me = author;
      const allowed = types.filter(
        (t) =>
          t === 'nick' ||
          t === 'status' ||
          (t === 'leave' && me !== owner) ||
          (t !== 'join' && t !== 'leave' && t !== 'rekey' && groupCan(state, me.publicKey, t)),
      );
      type = pick(allowed);
      const others = people.filter((p) => p !== author);
      const pool =
        type === 'invite'
          ? outsiders.filter((p) => !state.banned.has(toHex(p.publicKey)))
          : type === 'unban'
            ? people.filter((p) => state.banned.has(toHex(p.publicKey)))
            : others.filter(
                (p) =>
                  isMember(p) && groupMemberPower(state, p.publicKey) < groupMemberPower(state, me.publicKey),
              );
      target = pick(pool.length > 0 ? pool : others).publicKey;
    }
    const contents: { [T in Exclude<GroupEventType, 'create'>]: GroupEventContents[T] } = {
      invite: { member: target },
      join: {},
      leave: {},
      kick: { member: target },
      ban: { member: target },
      unban: { member: target },
      role: { member: target, role: pick(roles) },
      topic: { topic: `topic ${step}` },
      name: { name: `name ${step}` },
      avatar: { avatar: next(3) === 0 ? null : samplePng(1 + step, 1) },
      settings: {
        settings: {
          ...settings,
          public: next(2) === 0,
          power: {
            ...settings.power,
            [pick(['invite', 'kick', 'ban', 'topic', 'role'] as const)]: pick([0, 50, 75, 100]),
          },
        },
      },
      status: { status: pick(['online', 'away', 'busy'] as const) },
      nick: { nick: `nick ${step}` },
      pin: { pin: next(3) === 0 ? null : { text: `pin ${step}` } },
      rekey: memberKeyChange({
        group: create.group,
        author: author.publicKey,
        next: people[0]!, // never picked (not in `types`); drawn from no random source
        following: new Uint8Array(32),
      }),
    };
    // Usually the replica's heads; sometimes an older event, to make more concurrency.
    let parents = state.heads.map((id) => replica.find((e) => toHex(e.id) === toHex(id))!);
    if (next(5) === 0) parents = [pick(replica)];
    let lamport = Math.max(...parents.map((p) => p.lamport)) + 1 + (next(4) === 0 ? next(3) : 0);
    const twist = next(40);
    if (twist === 0) lamport -= 1; // a bad clock
    let event = createGroupEvent({
      author,
      group: create.group,
      parents: twist === 1 ? [keyRng.bytes(32)] : parents.map((p) => p.id), // an orphan
      lamport,
      ts: TS + step,
      type,
      content: contents[type],
    }) as GroupEvent;
    if (twist === 2) event = { ...event, sig: new Uint8Array(64).fill(step) } as GroupEvent; // forged
    replica.push(event);
    all.push(event);
  }
  return { events: all, group: create.group };
}

/**
 * A seeded random history of removals racing the removed member's acts: members with roles act
 * on three branches, removals (kick, ban, demotion) by a stronger member on one, the removed
 * member's acts on another (often hung on an old event), unrelated invitations and joins
 * everywhere, and now and then a strong member's merge of two branches.
 */
function removalHistory(seed: number): { events: GroupEvent[]; group: Uint8Array } {
  const next = seededInts(seed);
  const pick = <T>(items: readonly T[]): T => items[next(items.length)]!;
  const keyRng = scriptedRandom(`group-state removals ${seed}`);
  const people = Array.from({ length: 8 }, () => generateSignKeyPair(keyRng));
  const strangers = Array.from({ length: 6 }, () => generateSignKeyPair(keyRng));
  const owner = people[0]!;
  const create = createGroup({ author: owner, name: 'removals', ts: TS, rng: keyRng });
  const all: GroupEvent[] = [create];
  const add = <T extends Exclude<GroupEventType, 'create'>>(
    author: SignKeyPair,
    type: T,
    content: GroupEventContents[T],
    parents: readonly GroupEvent[],
  ): GroupEvent => {
    const event = createGroupEvent({
      author,
      group: create.group,
      parents: [...new Set(parents.map((p) => toHex(p.id)))].map(fromHex),
      lamport: Math.max(...parents.map((p) => p.lamport)) + 1 + next(2),
      ts: TS + all.length,
      type,
      content,
    }) as GroupEvent;
    all.push(event);
    return event;
  };
  let tip: GroupEvent = create;
  for (const k of people.slice(1)) tip = add(owner, 'invite', { member: k.publicKey }, [tip]);
  for (const k of people.slice(1)) tip = add(k, 'join', {}, [tip]);
  const roles = ['admin', 'admin', 'moderator', 'moderator', 'moderator'] as const;
  roles.forEach((role, i) => (tip = add(owner, 'role', { member: people[i + 1]!.publicKey, role }, [tip])));
  const setup = [...all];
  const branches: GroupEvent[][] = [[...setup], [...setup], [...setup]];
  for (let step = 0; step < 40; step++) {
    const branch = branches[next(3)]!;
    const state = resolveGroupState(branch);
    const heads = state.heads.map((id) => branch.find((e) => toHex(e.id) === toHex(id))!);
    const power = (k: SignKeyPair): number => groupMemberPower(state, k.publicKey);
    const members = people.filter((k) => state.members.has(toHex(k.publicKey)));
    const strong = members.filter((k) => power(k) >= 50);
    const roll = next(8);
    let event: GroupEvent | undefined;
    if (roll < 2 && strong.length > 0) {
      const author = pick(strong);
      const weaker = members.filter((k) => power(k) < power(author));
      if (weaker.length === 0) continue;
      const target = pick(weaker).publicKey;
      const kind = next(3);
      event =
        kind === 0
          ? add(author, 'kick', { member: target }, heads)
          : kind === 1
            ? add(author, 'ban', { member: target }, heads)
            : add(author, 'role', { member: target, role: 'member' }, heads);
    } else if (roll < 5 && strong.length > 0) {
      const author = pick(strong);
      const parents = next(2) === 0 ? [pick(branch.filter((e) => e.lamport > 0))] : heads;
      const target = pick(people.filter((k) => k !== author)).publicKey;
      const kind = next(4);
      event =
        kind === 0
          ? add(author, 'kick', { member: target }, parents)
          : kind === 1
            ? add(author, 'ban', { member: target }, parents)
            : kind === 2
              ? add(author, 'topic', { topic: `topic ${step}` }, parents)
              : add(author, 'invite', { member: pick(strangers).publicKey }, parents);
    } else if (roll < 7) {
      const invited = strangers.filter((k) => state.invited.has(toHex(k.publicKey)));
      if (invited.length > 0 && next(2) === 0) event = add(pick(invited), 'join', {}, heads);
      else if (members.length > 0)
        event = add(pick(members), 'invite', { member: pick(strangers).publicKey }, heads);
    } else {
      const other = branches[next(3)]!;
      const union = new Map([...branch, ...other].map((e) => [toHex(e.id), e]));
      branch.splice(0, branch.length, ...union.values());
      const merged = resolveGroupState(branch);
      const mergeHeads = merged.heads.map((id) => branch.find((e) => toHex(e.id) === toHex(id))!);
      const author = people.find((k) => groupMemberPower(merged, k.publicKey) >= 75);
      if (author !== undefined && next(2) === 0)
        event = add(author, 'invite', { member: pick(strangers).publicKey }, mergeHeads);
    }
    if (event !== undefined) branch.push(event);
  }
  return { events: all, group: create.group };
}

function shuffled<T>(items: readonly T[], next: (bound: number) => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = next(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('group state: properties of random histories', () => {
  let histories: Array<{ events: GroupEvent[]; group: Uint8Array }> = [];
  let removalHistories: Array<{ events: GroupEvent[]; group: Uint8Array }> = [];
  beforeAll(() => {
    histories = [101, 202, 303, 505].map((seed) => randomHistory(seed, 60));
    removalHistories = Array.from({ length: 16 }, (_, i) => removalHistory(11 * (i + 1)));
  });

  it('the histories exercise forks, every kind of rejection and every type', () => {
    const reasons = new Set<string>();
    const types = new Set<string>();
    let forks = 0;
    for (const { events } of histories) {
      const s = resolveGroupState(events);
      for (const r of s.rejected) reasons.add(r.reason);
      for (const e of events) types.add(e.type);
      const parentsNamed = new Map<string, number>();
      for (const e of events)
        for (const p of e.parents) parentsNamed.set(toHex(p), (parentsNamed.get(toHex(p)) ?? 0) + 1);
      forks += [...parentsNamed.values()].filter((n) => n > 1).length;
      expect(s.members.size).toBeGreaterThan(1);
    }
    expect(forks).toBeGreaterThan(10);
    for (const reason of ['forged', 'orphan', 'clock', 'unauthorised', 'conflict'])
      expect(reasons).toContain(reason);
    expect(types.size).toBe(15);
  });

  it('200 random delivery orders (with duplicates) give identical state, and 20 each of 4 removal races', () => {
    const next = seededInts(2024);
    for (const { events, rounds } of [
      ...histories.map(({ events }) => ({ events, rounds: 50 })),
      ...removalHistories.slice(0, 4).map(({ events }) => ({ events, rounds: 20 })),
    ]) {
      const expected = canon(resolveGroupState(events));
      for (let round = 0; round < rounds; round++) {
        const order = shuffled(events, next);
        for (let d = next(4); d > 0; d--) order.splice(next(order.length + 1), 0, pick(order, next));
        expect(canon(resolveGroupState(order))).toEqual(expected);
      }
    }
  });

  it('an event’s fate at its parents does not depend on what came after it', () => {
    for (const { events } of [...histories, ...removalHistories.slice(0, 4)]) {
      const full = resolveGroupState(events);
      const byId = new Map(events.map((e) => [toHex(e.id), e]));
      const fate = new Map(full.rejected.map((r) => [toHex(r.id), r.reason]));
      for (const event of events) {
        const reason = fate.get(toHex(event.id));
        if (
          event.type === 'create' ||
          (reason !== undefined && reason !== 'unauthorised' && reason !== 'conflict')
        )
          continue;
        // The event with its ancestors only: it is the newest, so it stands or falls on its parents.
        const downset = new Map<string, GroupEvent>();
        const stack: GroupEvent[] = [event];
        while (stack.length > 0) {
          const e = stack.pop()!;
          if (downset.has(toHex(e.id))) continue;
          downset.set(toHex(e.id), e);
          for (const p of e.parents) stack.push(byId.get(toHex(p))!);
        }
        const alone = resolveGroupState([...downset.values()]);
        const aloneReason = alone.rejected.find((r) => toHex(r.id) === toHex(event.id))?.reason;
        expect(aloneReason).toBe(reason === 'unauthorised' ? 'unauthorised' : undefined);
      }
    }
  });
  it('a member removed by someone stronger gets no concurrent act accepted, unless someone as strong built on it first', () => {
    let pairs = 0;
    let endorsed = 0;
    for (const { events } of [...histories, ...removalHistories]) {
      const full = resolveGroupState(events);
      const fate = new Map(full.rejected.map((r) => [toHex(r.id), r.reason]));
      const accepted = (e: GroupEvent): boolean => !fate.has(toHex(e.id));
      const byId = new Map(events.map((e) => [toHex(e.id), e]));
      const ancMemo = new Map<string, Set<string>>();
      const anc = (e: GroupEvent): Set<string> => {
        let out = ancMemo.get(toHex(e.id));
        if (out === undefined) {
          out = new Set<string>();
          for (const p of e.parents) {
            const parent = byId.get(toHex(p));
            if (parent === undefined) continue;
            out.add(toHex(p));
            for (const a of anc(parent)) out.add(a);
          }
          ancMemo.set(toHex(e.id), out);
        }
        return out;
      };
      const stateMemo = new Map<string, GroupState>();
      const stateAt = (e: GroupEvent): GroupState => {
        let st = stateMemo.get(toHex(e.id));
        if (st === undefined) {
          st = resolveGroupState([...anc(e)].map((id) => byId.get(id)!));
          stateMemo.set(toHex(e.id), st);
        }
        return st;
      };
      const targetOf = (e: GroupEvent): string | undefined =>
        'member' in e.content && e.content.member instanceof Uint8Array ? toHex(e.content.member) : undefined;
      const minRequired = (action: GroupAction): number =>
        Math.min(
          ...events.flatMap((e) =>
            e.type === 'create' || e.type === 'settings' ? [e.content.settings.power[action]] : [],
          ),
        );
      const admitted = events.filter(
        (e) => e.type !== 'create' && ['unauthorised', 'conflict', undefined].includes(fate.get(toHex(e.id))),
      );
      for (const removal of admitted) {
        if (!accepted(removal) || !['kick', 'ban', 'role'].includes(removal.type)) continue;
        const m = targetOf(removal)!;
        const atRemoval = stateAt(removal);
        if (!atRemoval.members.has(m)) continue; // a kick of an invitation
        const removed = groupMemberPower(atRemoval, fromHex(m));
        const remover = groupMemberPower(atRemoval, removal.author);
        if (remover <= removed) continue;
        const left = removal.type === 'role' ? GROUP_ROLE_POWER[removal.content.role] : -1;
        if (left >= removed) continue; // a promotion
        // Nothing else changes M's membership or role outside what the removal saw.
        const touches = (e: GroupEvent): boolean =>
          targetOf(e) === m || (toHex(e.author) === m && (e.type === 'join' || e.type === 'leave'));
        if (admitted.some((e) => e !== removal && touches(e) && !anc(removal).has(toHex(e.id)))) continue;
        for (const act of admitted) {
          if (toHex(act.author) !== m || anc(removal).has(toHex(act.id)) || anc(act).has(toHex(removal.id)))
            continue;
          const atAct = stateAt(act);
          if (!atAct.members.has(m) || groupMemberPower(atAct, act.author) > removed) continue;
          // What the removal takes away: membership, or the power the act needs.
          if (left >= 0 && (act.type === 'nick' || act.type === 'status' || act.type === 'leave')) continue;
          if (left >= 0 && minRequired(act.type as GroupAction) <= left) continue;
          const alone = resolveGroupState([...anc(act)].map((id) => byId.get(id)!).concat(act));
          if (alone.rejected.some((r) => toHex(r.id) === toHex(act.id))) continue; // refused anyway
          pairs++;
          // Just the two and what they saw: the removal goes first and the act fails.
          const both = new Map<string, GroupEvent>([
            [toHex(removal.id), removal],
            [toHex(act.id), act],
          ]);
          for (const id of [...anc(removal), ...anc(act)]) both.set(id, byId.get(id)!);
          const two = resolveGroupState([...both.values()]);
          const refused = new Set(two.rejected.map((r) => toHex(r.id)));
          if (!refused.has(toHex(removal.id))) expect(refused.has(toHex(act.id))).toBe(true);
          // Everything: the act stands only if it is a power event that someone at least as
          // strong as the remover built on without having seen the removal.
          if (!accepted(act)) continue;
          expect(POWER_EVENT_TYPES).toContain(act.type);
          const endorsement = admitted.find(
            (f) =>
              accepted(f) &&
              POWER_EVENT_TYPES.includes(f.type) &&
              anc(f).has(toHex(act.id)) &&
              f !== removal &&
              !anc(f).has(toHex(removal.id)) &&
              groupMemberPower(stateAt(f), f.author) >= remover,
          );
          expect(endorsement).toBeDefined();
          endorsed++;
        }
      }
    }
    expect(pairs).toBeGreaterThan(15);
    expect(endorsed).toBeLessThan(pairs);
  });
});

const POWER_EVENT_TYPES: readonly string[] = [
  'invite',
  'join',
  'leave',
  'kick',
  'ban',
  'unban',
  'role',
  'settings',
];

function pick<T>(items: readonly T[], next: (bound: number) => number): T {
  return items[next(items.length)]!;
}

describe('member key pre-rotation (rekey, docs/decisions/0040)', () => {
  /** Carol joins with a commitment to `next`; the admin and a moderator are there too. */
  function committed(next: SignKeyPair): { h: History; join: GroupEvent } {
    const h = new History();
    h.add(creator, 'invite', { member: admin.publicKey });
    h.add(admin, 'join', {});
    h.add(creator, 'role', { member: admin.publicKey, role: 'admin' });
    h.add(creator, 'invite', { member: carol.publicKey });
    const join = h.add(carol, 'join', { next: memberKeyCommitment(next.publicKey) });
    h.add(carol, 'nick', { nick: 'carol' });
    h.add(admin, 'role', { member: carol.publicKey, role: 'moderator' });
    return { h, join };
  }

  it('moves the member, role, join clock and nick to the committed key; the old key counts no more', () => {
    const next = generateSignKeyPair(rng);
    const after = generateSignKeyPair(rng);
    const { h } = committed(next);
    const before = h.resolve().members.get(hex(carol))!;
    const change = memberKeyChange({
      group: h.create.group,
      author: carol.publicKey,
      next,
      following: memberKeyCommitment(after.publicKey),
    });
    const rekey = h.add(carol, 'rekey', change);
    const s = h.resolve();
    expect(reasonOf(s, rekey)).toBeUndefined();
    expect(s.members.has(hex(carol))).toBe(false);
    expect(s.members.get(hex(next))).toMatchObject({
      role: 'moderator',
      joinedAt: before.joinedAt,
      nick: 'carol',
    });
    // The old key (a revoked device keeps it) can do nothing any more.
    const stale = h.add(carol, 'topic', { topic: 'from the lost phone' });
    expect(reasonOf(h.resolve(), stale)).toBe('unauthorised');
    // The new key acts with the member's power, and can rotate again to the next commitment.
    const topic = h.add(next, 'topic', { topic: 'from the new key' });
    const again = h.add(
      next,
      'rekey',
      memberKeyChange({
        group: h.create.group,
        author: next.publicKey,
        next: after,
        following: rng.bytes(32),
      }),
    );
    const s2 = h.resolve();
    expect(reasonOf(s2, topic)).toBeUndefined();
    expect(reasonOf(s2, again)).toBeUndefined();
    expect(s2.topic).toBe('from the new key');
    expect(s2.members.get(hex(after))?.role).toBe('moderator');
  });

  it('refuses a change to a key the member did not commit to (a thief holding the old key)', () => {
    const next = generateSignKeyPair(rng);
    const thief = generateSignKeyPair(rng);
    const { h } = committed(next);
    const forged = h.add(
      carol,
      'rekey',
      memberKeyChange({
        group: h.create.group,
        author: carol.publicKey,
        next: thief,
        following: rng.bytes(32),
      }),
    );
    const s = h.resolve();
    expect(reasonOf(s, forged)).toBe('unauthorised');
    expect(s.members.has(hex(carol))).toBe(true);
    expect(s.members.has(hex(thief))).toBe(false);
    // A member without a commitment cannot change keys at all.
    const noCommit = h.add(
      admin,
      'rekey',
      memberKeyChange({
        group: h.create.group,
        author: admin.publicKey,
        next: thief,
        following: rng.bytes(32),
      }),
    );
    expect(reasonOf(h.resolve(), noCommit)).toBe('unauthorised');
  });

  it('refuses a proof not made by the new key, and one made for another member (VerificationError at decoding)', () => {
    const next = generateSignKeyPair(rng);
    const { h } = committed(next);
    const good = memberKeyChange({
      group: h.create.group,
      author: carol.publicKey,
      next,
      following: rng.bytes(32),
    });
    const wrongProof = { ...good, proof: sign(generateSignKeyPair(rng).secretKey, new Uint8Array(8)) };
    expect(() => h.add(carol, 'rekey', wrongProof)).toThrow(UsageError);
    // A proof for Carol's change replayed by the admin as the author: the signed bytes name Carol.
    const replay = createGroupEvent({
      author: admin,
      group: h.create.group,
      parents: [h.events[h.events.length - 1]!.id],
      lamport: 100,
      ts: TS,
      type: 'topic',
      content: { topic: 'x' },
    });
    const m = decodeCbor(encodeGroupEvent(replay)) as CborMap;
    m.type = 'rekey';
    m.content = { key: good.key, next: good.next, proof: good.proof };
    const { id: _id, sig: _sig, ...unsigned } = m;
    m.id = hash(concatBytes(utf8('parus-group-event-v1'), encodeCbor(unsigned)), 32);
    m.sig = sign(admin.secretKey, concatBytes(utf8('parus-group-event-sig-v1'), m.id as Uint8Array));
    expect(() => decodeGroupEvent(encodeCbor(m))).toThrow(VerificationError);
  });

  it('the creator commits in its create, and keeps the creator role under its next key', () => {
    const next = generateSignKeyPair(rng);
    const create = createGroup({
      author: creator,
      name: 'Parus',
      ts: TS,
      rng,
      next: memberKeyCommitment(next.publicKey),
    });
    const rekey = createGroupEvent({
      author: creator,
      group: create.group,
      parents: [create.id],
      lamport: 1,
      ts: TS,
      type: 'rekey',
      content: memberKeyChange({
        group: create.group,
        author: creator.publicKey,
        next,
        following: rng.bytes(32),
      }),
    });
    const s = resolveGroupState([create, rekey]);
    expect(s.members.get(hex(next))?.role).toBe('creator');
    expect(s.members.size).toBe(1);
  });
});
