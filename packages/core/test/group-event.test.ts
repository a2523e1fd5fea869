import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex, utf8 } from '../src/bytes.ts';
import { decodeCbor, encodeCbor, type CborMap } from '../src/cbor.ts';
import { generateSignKeyPair, hash, initCrypto, sign, type SignKeyPair } from '../src/crypto.ts';
import { DecodeError, ParusError, ProtocolError, UsageError, VerificationError } from '../src/errors.ts';
import legacy from './vectors/group-legacy-create.json' with { type: 'json' };
import { samplePng } from './image-samples.ts';
import {
  GROUP_EVENT_TYPES,
  MAX_GROUP_AVATAR_BYTES,
  MAX_GROUP_AVATAR_SIDE,
  MAX_GROUP_EVENT_BYTES,
  MAX_GROUP_EVENT_PARENTS,
  MAX_GROUP_NAME_CHARS,
  MAX_GROUP_PIN_CHARS,
  MAX_GROUP_TOPIC_CHARS,
  createGroup,
  checkGroupEvent,
  createGroupEvent,
  decodeGroupEvent,
  defaultGroupSettings,
  encodeGroupEvent,
  groupIdOfCreate,
  memberKeyChange,
  type GroupEvent,
  type GroupEventContents,
  type GroupEventOf,
  type GroupEventType,
} from '../src/group-event.ts';
import {
  expectMutationsRejected,
  expectTruncationsRejected,
  scriptedRandom,
  versionOffset,
} from './contact-test-helpers.ts';

const rng = scriptedRandom('group-event');
const TS = 1_750_000_000_000;
let alice: SignKeyPair;
let bob: SignKeyPair;
let create: GroupEventOf<'create'>;
let group: Uint8Array;
let parents: Uint8Array[];

beforeAll(async () => {
  await initCrypto();
  alice = generateSignKeyPair(rng);
  bob = generateSignKeyPair(rng);
  create = createGroup({ author: alice, name: '山雀 Tits', ts: TS, rng });
  group = create.group;
  parents = [create.id, rng.bytes(32)];
});

/** One valid content per type (create has its own constructor). */
function sampleContents(): { [T in Exclude<GroupEventType, 'create'>]: GroupEventContents[T] } {
  return {
    invite: { member: bob.publicKey },
    join: {},
    leave: {},
    kick: { member: bob.publicKey, reason: 'spam\nagain' },
    ban: { member: bob.publicKey },
    unban: { member: bob.publicKey },
    role: { member: bob.publicKey, role: 'moderator' },
    topic: { topic: '今天吃什麼？ 🐦' },
    name: { name: 'Parus major' },
    avatar: { avatar: samplePng(128, 128, 64) },
    settings: { settings: defaultGroupSettings({ public: true, shareHistory: true }) },
    status: { status: 'away' },
    nick: { nick: 'tit' },
    pin: { pin: { text: '公告：週五聚餐', message: rng.bytes(32) } },
    rekey: memberKeyChange({
      group,
      author: alice.publicKey,
      next: generateSignKeyPair(rng),
      following: rng.bytes(32),
    }),
  };
}

function make<T extends Exclude<GroupEventType, 'create'>>(
  type: T,
  content: GroupEventContents[T],
): GroupEvent {
  return createGroupEvent({ author: alice, group, parents, lamport: 3, ts: TS, type, content }) as GroupEvent;
}

/** Edits the decoded map; optionally recomputes the id (and the signature) the honest way. */
function edited(event: GroupEvent, edit: (m: CborMap) => void, redo: 'none' | 'id+sig' = 'none'): Uint8Array {
  const m = decodeCbor(encodeGroupEvent(event)) as CborMap;
  edit(m);
  if (redo !== 'none') {
    const { id: _id, sig: _sig, ...content } = m;
    m.id = hash(concatBytes(utf8('parus-group-event-v1'), encodeCbor(content)), 32);
    m.sig = sign(alice.secretKey, concatBytes(utf8('parus-group-event-sig-v1'), m.id));
  }
  return encodeCbor(m);
}

describe('group event codec', () => {
  it('round-trips every type, byte for byte', () => {
    const samples = sampleContents();
    const events: GroupEvent[] = [create];
    for (const type of GROUP_EVENT_TYPES) {
      if (type !== 'create') events.push(make(type, samples[type]));
    }
    expect(events.map((e) => e.type)).toEqual([...GROUP_EVENT_TYPES]);
    for (const e of events) {
      const bytes = encodeGroupEvent(e);
      const back = decodeGroupEvent(bytes, { group });
      expect(back).toEqual(e);
      expect(toHex(encodeGroupEvent(back))).toBe(toHex(bytes));
    }
  });

  it('binds the group id to the whole create event (issue 11)', () => {
    expect(toHex(groupIdOfCreate(create.id))).toBe(toHex(group));
    expect(create.parents).toEqual([]);
    expect(create.lamport).toBe(0);
    /** Alice's create with one field changed, re-signed by `signer`, its group id kept. */
    const resigned = (change: (m: CborMap) => void, signer: SignKeyPair): Uint8Array => {
      const m = decodeCbor(encodeGroupEvent(create)) as CborMap;
      change(m);
      const { id: _id, sig: _sig, group: _group, ...unsigned } = m;
      m.id = hash(concatBytes(utf8('parus-group-event-v1'), encodeCbor(unsigned)), 32);
      m.sig = sign(signer.secretKey, concatBytes(utf8('parus-group-event-sig-v1'), m.id as Uint8Array));
      return encodeCbor(m);
    };
    // The creator's second create with the same nonce and another name, time or settings: an
    // honest id and signature, but it does not name the group of the first.
    const content = create.content;
    for (const change of [
      (m: CborMap) => void (m.content = { ...content, name: 'Wiped' } as unknown as CborMap),
      (m: CborMap) => void (m.ts = TS + 1),
      (m: CborMap) =>
        void (m.content = {
          ...content,
          settings: { ...content.settings, public: true },
        } as unknown as CborMap),
    ]) {
      expect(() => decodeGroupEvent(resigned(change, alice))).toThrow(VerificationError);
    }
    // Bob signs Alice's create as his own: bound to nothing either.
    expect(() => decodeGroupEvent(resigned((m) => void (m.author = bob.publicKey), bob))).toThrow(
      VerificationError,
    );
    // Nobody makes a create through createGroupEvent: its group is derived from it.
    expect(() =>
      createGroupEvent({
        author: alice,
        group,
        parents: [],
        lamport: 0,
        ts: TS,
        type: 'create',
        content: create.content,
      }),
    ).toThrow(UsageError);
  });

  it('still decodes a create made before the binding, bound to its creator and nonce', () => {
    const [legacyCreate, invite, join] = legacy.events.map((e) => decodeGroupEvent(fromHex(e)));
    expect(toHex(legacyCreate!.group)).toBe(legacy.group);
    expect(toHex(invite!.group)).toBe(legacy.group);
    expect(join!.type).toBe('join');
    // Its creator could sign a second create with the same nonce: it decodes too, and
    // group-state.ts refuses a group with two creates (group-state.test.ts).
    expect(toHex(decodeGroupEvent(fromHex(legacy.secondCreate)).group)).toBe(legacy.group);
    // But a legacy create whose group id is not its creator's and nonce's is a forgery.
    const m = decodeCbor(fromHex(legacy.events[0]!)) as CborMap;
    m.group = new Uint8Array(16).fill(1);
    const { id: _id, sig: _sig, ...unsigned } = m;
    m.id = hash(concatBytes(utf8('parus-group-event-v1'), encodeCbor(unsigned)), 32);
    expect(() => decodeGroupEvent(encodeCbor(m))).toThrow(VerificationError);
  });

  it('refuses an object that is not an event with the project’s errors, never a TypeError', () => {
    const kick = make('kick', sampleContents().kick);
    const cyclic: Record<string, unknown> = { member: bob.publicKey };
    cyclic.self = cyclic;
    const notEvents = [
      { ...kick, parents: null },
      { ...kick, parents: 'x' },
      { ...kick, content: null },
      { ...kick, content: { member: Symbol('x') } },
      { ...kick, content: cyclic },
      null,
      7,
    ];
    for (const broken of notEvents)
      expect(() => encodeGroupEvent(broken as unknown as GroupEvent)).toThrow(UsageError);
    for (const broken of [
      ...notEvents,
      { ...kick, group: 7 },
      { ...kick, lamport: -1 },
      { ...kick, lamport: 2 ** 64 },
      { ...kick, parents: [null] },
      { ...kick, id: 'x' },
    ]) {
      let thrown: unknown;
      try {
        checkGroupEvent(broken as unknown as GroupEvent);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ParusError);
    }
  });

  it('refuses every truncation with DecodeError', () => {
    expectTruncationsRejected(encodeGroupEvent(make('kick', sampleContents().kick)), decodeGroupEvent);
    expectTruncationsRejected(encodeGroupEvent(create), decodeGroupEvent);
  });

  it('refuses 500 random mutations with DecodeError or VerificationError only', () => {
    const samples = sampleContents();
    let total = 0;
    for (const [seed, event] of [
      [1, create],
      [2, make('settings', samples.settings)],
      [3, make('pin', samples.pin)],
      [4, make('role', samples.role)],
      [5, make('ban', { member: bob.publicKey, reason: '廣告' })],
    ] as const) {
      const bytes = encodeGroupEvent(event);
      const { byClass } = expectMutationsRejected(bytes, decodeGroupEvent, {
        count: 100,
        seed,
        versionOffset: versionOffset(bytes),
      });
      expect(byClass.VerificationError).toBeGreaterThan(0);
      total += Object.values(byClass).reduce((a, b) => a + b, 0);
    }
    expect(total).toBe(500);
  });

  it('refuses oversized input with DecodeError', () => {
    expect(() => decodeGroupEvent(new Uint8Array(MAX_GROUP_EVENT_BYTES + 1))).toThrow(DecodeError);
    expect(() => decodeGroupEvent(concatBytes(encodeGroupEvent(create), new Uint8Array(1)))).toThrow(
      DecodeError,
    );
  });

  it('refuses a forged signature or a field changed without re-signing with VerificationError', () => {
    const e = make('role', { member: bob.publicKey, role: 'admin' });
    expect(() =>
      decodeGroupEvent(edited(e, (m) => (m.sig = sign(bob.secretKey, m.id as Uint8Array)))),
    ).toThrow(VerificationError);
    expect(() => decodeGroupEvent(edited(e, (m) => (m.sig = new Uint8Array(64))))).toThrow(VerificationError);
    const edits: Array<(m: CborMap) => void> = [
      (m) => ((m.content as CborMap).role = 'moderator'),
      (m) => ((m.content as CborMap).member = alice.publicKey),
      (m) => (m.lamport = 4),
      (m) => (m.ts = TS + 1),
      (m) => (m.group = rng.bytes(16)),
      (m) => (m.parents = [create.id]),
      (m) => (m.author = bob.publicKey),
      (m) => (m.type = 'kick'),
    ];
    for (const edit of edits) expect(() => decodeGroupEvent(edited(e, edit))).toThrow(VerificationError);
  });

  it('refuses an event of another group with ProtocolError when the group is named', () => {
    const e = make('topic', { topic: 'x' });
    expect(() => decodeGroupEvent(encodeGroupEvent(e), { group: rng.bytes(16) })).toThrow(ProtocolError);
    expect(decodeGroupEvent(encodeGroupEvent(e), { group }).id).toEqual(e.id);
  });

  it('refuses an unknown version or a signed unknown type with ProtocolError', () => {
    const e = make('topic', { topic: 'x' });
    expect(() => decodeGroupEvent(edited(e, (m) => (m.v = 2), 'id+sig'))).toThrow(ProtocolError);
    expect(() => decodeGroupEvent(edited(e, (m) => (m.type = 'message'), 'id+sig'))).toThrow(ProtocolError);
  });

  it('refuses malformed events and contents with DecodeError even when signed', () => {
    const samples = sampleContents();
    const cases: Array<[GroupEvent, (m: CborMap) => void]> = [
      [make('topic', samples.topic), (m) => (m.extra = 1)],
      [make('topic', samples.topic), (m) => delete m.content],
      [make('topic', samples.topic), (m) => (m.parents = [...(m.parents as Uint8Array[])].reverse())],
      [make('topic', samples.topic), (m) => (m.parents = [])],
      [
        make('topic', samples.topic),
        (m) => (m.parents = Array.from({ length: 33 }, (_, i) => new Uint8Array(32).fill(i))),
      ],
      [make('topic', samples.topic), (m) => (m.group = new Uint8Array(15))],
      [make('topic', samples.topic), (m) => (m.lamport = -1)],
      [
        make('topic', samples.topic),
        (m) => ((m.content as CborMap).topic = 't'.repeat(MAX_GROUP_TOPIC_CHARS + 1)),
      ],
      [make('topic', samples.topic), (m) => ((m.content as CborMap).topic = 'a\u0007b')],
      [make('topic', samples.topic), (m) => ((m.content as CborMap).extra = 'x')],
      [make('name', samples.name), (m) => ((m.content as CborMap).name = '')],
      [make('name', samples.name), (m) => ((m.content as CborMap).name = '   ')],
      [make('name', samples.name), (m) => ((m.content as CborMap).name = 'line\nbreak')],
      [
        make('name', samples.name),
        (m) => ((m.content as CborMap).name = 'n'.repeat(MAX_GROUP_NAME_CHARS + 1)),
      ],
      [make('role', samples.role), (m) => ((m.content as CborMap).role = 'creator')],
      [make('role', samples.role), (m) => ((m.content as CborMap).role = 'owner')],
      [make('role', samples.role), (m) => ((m.content as CborMap).member = new Uint8Array(31))],
      [make('invite', samples.invite), (m) => delete (m.content as CborMap).member],
      [make('join', {}), (m) => ((m.content as CborMap).nick = 'x')],
      [make('status', samples.status), (m) => ((m.content as CborMap).status = 'asleep')],
      [make('avatar', samples.avatar), (m) => ((m.content as CborMap).avatar = new Uint8Array(257))],
      [make('avatar', samples.avatar), (m) => ((m.content as CborMap).avatar = 'url')],
      [make('avatar', samples.avatar), (m) => ((m.content as CborMap).avatar = samplePng(129, 16))],
      [make('avatar', samples.avatar), (m) => ((m.content as CborMap).avatar = samplePng(16, 16, 6200))],
      [
        make('avatar', samples.avatar),
        (m) => ((m.content as CborMap).avatar = utf8('GIF89a\x01\x00\x01\x00')),
      ],
      [make('pin', samples.pin), (m) => (((m.content as CborMap).pin as CborMap).text = '')],
      [
        make('pin', samples.pin),
        (m) => (((m.content as CborMap).pin as CborMap).message = new Uint8Array(16)),
      ],
      [
        make('settings', samples.settings),
        (m) => delete (((m.content as CborMap).settings as CborMap).power as CborMap).ban,
      ],
      [
        make('settings', samples.settings),
        (m) => ((((m.content as CborMap).settings as CborMap).power as CborMap).ban = 101),
      ],
      [
        make('settings', samples.settings),
        (m) => ((((m.content as CborMap).settings as CborMap).power as CborMap).x = 1),
      ],
      [make('settings', samples.settings), (m) => (((m.content as CborMap).settings as CborMap).public = 1)],
      [create, (m) => (m.parents = [parents[0]!])],
      [create, (m) => (m.lamport = 1)],
    ];
    for (const [event, edit] of cases)
      expect(() => decodeGroupEvent(edited(event, edit, 'id+sig'))).toThrow(DecodeError);
  });

  it('a group picture is a JPEG or PNG of at most 6 KiB and 128 px that fits an event with 32 parents (decision 0066)', () => {
    const largest = samplePng(MAX_GROUP_AVATAR_SIDE, MAX_GROUP_AVATAR_SIDE, MAX_GROUP_AVATAR_BYTES - 33);
    const many = Array.from({ length: MAX_GROUP_EVENT_PARENTS }, (_, i) => new Uint8Array(32).fill(i + 1));
    const event = createGroupEvent({
      author: alice,
      group,
      parents: many,
      lamport: 3,
      ts: TS,
      type: 'avatar',
      content: { avatar: largest },
    }) as GroupEvent;
    const back = decodeGroupEvent(encodeGroupEvent(event));
    expect(back.content).toEqual({ avatar: largest });
    for (const avatar of [
      samplePng(MAX_GROUP_AVATAR_SIDE + 1, 8),
      samplePng(8, 8, MAX_GROUP_AVATAR_BYTES),
      utf8('not a picture at all'),
    ])
      expect(() => make('avatar', { avatar })).toThrow(UsageError);
  });

  it('checkGroupEvent trusts what it made or decoded (frozen) and checks any other object', () => {
    const made = make('topic', { topic: 'checked' });
    const decoded = decodeGroupEvent(encodeGroupEvent(made));
    expect(checkGroupEvent(made)).toBe(made);
    expect(checkGroupEvent(decoded)).toBe(decoded);
    expect(
      Object.isFrozen(decoded) && Object.isFrozen(decoded.content) && Object.isFrozen(decoded.parents),
    ).toBe(true);
    expect(() => {
      (decoded.content as { topic: string }).topic = 'changed';
    }).toThrow(TypeError);
    const copy = { ...made } as GroupEvent;
    const checked = checkGroupEvent(copy);
    expect(checked).not.toBe(copy);
    expect(checked).toEqual(made);
    expect(() => checkGroupEvent({ ...made, content: { topic: 'forged' } } as GroupEvent)).toThrow(
      VerificationError,
    );
    expect(() => checkGroupEvent({ ...made, sig: new Uint8Array(64) } as GroupEvent)).toThrow(
      VerificationError,
    );
  });

  it('counts characters as code points', () => {
    const emoji = '🐦'.repeat(MAX_GROUP_NAME_CHARS); // 128 UTF-16 units, 64 code points
    expect(make('name', { name: emoji }).type).toBe('name');
    expect(() => make('name', { name: emoji + '🐦' })).toThrow(UsageError);
    expect(make('pin', { pin: { text: '公'.repeat(MAX_GROUP_PIN_CHARS) } }).type).toBe('pin');
    expect(make('pin', { pin: null }).type).toBe('pin');
  });

  it('checks arguments with UsageError', () => {
    const base = {
      author: alice,
      group,
      parents,
      lamport: 1,
      ts: TS,
      type: 'topic' as const,
      content: { topic: 'x' },
    };
    expect(() => createGroupEvent({ ...base, group: new Uint8Array(8) })).toThrow(UsageError);
    expect(() => createGroupEvent({ ...base, parents: [] })).toThrow(UsageError);
    expect(() => createGroupEvent({ ...base, parents: [parents[0]!, parents[0]!] })).toThrow(UsageError);
    expect(() => createGroupEvent({ ...base, parents: [new Uint8Array(16)] })).toThrow(UsageError);
    expect(() => createGroupEvent({ ...base, lamport: -1 })).toThrow(UsageError);
    expect(() => createGroupEvent({ ...base, ts: 1.5 })).toThrow(UsageError);
    expect(() => createGroupEvent({ ...base, type: 'message' as 'topic' })).toThrow(UsageError);
    expect(() => createGroupEvent({ ...base, content: { topic: 'a\uD800b' } })).toThrow(UsageError);
    expect(() =>
      createGroupEvent({ ...base, content: { topic: 'x', extra: 1 } as { topic: string } }),
    ).toThrow(UsageError);
    expect(() =>
      createGroupEvent({ ...base, author: { publicKey: alice.publicKey, secretKey: new Uint8Array(32) } }),
    ).toThrow(UsageError);
    expect(() => createGroup({ author: alice, name: '', ts: TS, rng })).toThrow(UsageError);
    // Parents are a set: any order gives the same event.
    const a = createGroupEvent(base);
    const b = createGroupEvent({ ...base, parents: [...parents].reverse() });
    expect(toHex(a.id)).toBe(toHex(b.id));
  });
});
