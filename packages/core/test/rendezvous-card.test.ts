import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, equalBytes, toBase64Url, toHex, utf8 } from '../src/bytes.ts';
import { decodeCbor, encodeCbor, type CborMap } from '../src/cbor.ts';
import {
  generateDhKeyPair,
  generateSignKeyPair,
  generateXwingKeyPair,
  initCrypto,
  sign,
  type SignKeyPair,
} from '../src/crypto.ts';
import { DecodeError, ProtocolError, UsageError, VerificationError } from '../src/errors.ts';
import { pqxdhInitiate, pqxdhRespond } from '../src/pqxdh.ts';
import { formatRelayAddress, relayFingerprint } from '../src/relay-address.ts';
import {
  cardFromLink,
  cardId,
  cardToLink,
  checkCardUsable,
  createCard,
  decodeCard,
  encodeCard,
  MAX_CARD_BYTES,
  type CreateCardOptions,
  type RendezvousCard,
} from '../src/rendezvous-card.ts';
import {
  expectMutationsRejected,
  expectTruncationsRejected,
  scriptedRandom,
  versionOffset,
} from './contact-test-helpers.ts';

const rng = scriptedRandom('rendezvous-card');
const NOW = 1_750_000_000_000;
const DAY = 86_400_000;

function relay(name: string, host = `${name}.example.org`, port = 443): string {
  const key = generateSignKeyPair(scriptedRandom(`relay-${name}`)).publicKey;
  return formatRelayAddress({ fingerprint: relayFingerprint(key), host, port, transport: 'wss' });
}

let identity: SignKeyPair;
let options: CreateCardOptions;

beforeAll(async () => {
  await initCrypto();
  identity = generateSignKeyPair(rng);
  options = {
    identity,
    signedPrekey: generateDhKeyPair(rng).publicKey,
    kemKey: generateXwingKeyPair(rng).publicKey,
    queue: { relay: relay('home'), sid: rng.bytes(24) },
    relays: [relay('home'), relay('backup', 'backup.example.net', 5223)],
    name: '小明 Ming 🐦',
    expires: NOW + 7 * DAY,
    oneTime: true,
  };
});

/** Re-signs an edited CBOR map the way the card's owner would. */
function resign(map: CborMap, key: SignKeyPair): Uint8Array {
  const { sig: _sig, ...rest } = map;
  return encodeCbor({
    ...rest,
    sig: sign(key.secretKey, concatBytes(utf8('parus-card-v1'), encodeCbor(rest))),
  });
}

function editedMap(card: RendezvousCard, edit: (m: CborMap) => void): CborMap {
  const m = decodeCbor(encodeCard(card)) as CborMap;
  edit(m);
  return m;
}

describe('rendez-vous card codec', () => {
  it('round-trips with and without a name', () => {
    const card = createCard(options);
    const bytes = encodeCard(card);
    const back = decodeCard(bytes);
    expect(back).toEqual(card);
    expect(toHex(encodeCard(back))).toBe(toHex(bytes));
    expect(toHex(cardId(back))).toBe(toHex(cardId(card)));
    expect(cardId(card)).toHaveLength(32);

    const { name: _name, ...rest } = options;
    const anonymous = createCard(rest);
    expect(anonymous.name).toBeUndefined();
    expect(decodeCard(encodeCard(anonymous))).toEqual(anonymous);
    expect(equalBytes(cardId(anonymous), cardId(card))).toBe(false);
  });

  it('is small enough for a QR code', () => {
    const card = createCard(options);
    const bytes = encodeCard(card);
    const link = cardToLink(card);
    // 1216-byte X-Wing key + keys, signature, two relays: about 1.6 KiB; the link is ~2.2k
    // characters, inside a version-40 QR code in byte mode at level L (2953 bytes).
    expect(bytes.length).toBeLessThan(1800);
    expect(link.length).toBeLessThan(2953);
  });

  it('refuses every truncation with DecodeError', () => {
    expectTruncationsRejected(encodeCard(createCard(options)), decodeCard);
  });

  it('refuses 600 random mutations with DecodeError or VerificationError', () => {
    const bytes = encodeCard(createCard(options));
    const { byClass } = expectMutationsRejected(bytes, decodeCard, {
      count: 600,
      seed: 7,
      versionOffset: versionOffset(bytes),
    });
    expect(byClass.VerificationError).toBeGreaterThan(0);
  });

  it('refuses oversized input and trailing bytes with DecodeError', () => {
    const bytes = encodeCard(createCard(options));
    expect(() => decodeCard(new Uint8Array(MAX_CARD_BYTES + 1))).toThrow(DecodeError);
    expect(() => decodeCard(concatBytes(bytes, new Uint8Array(1)))).toThrow(DecodeError);
    const big = editedMap(createCard(options), (m) => {
      m.name = 'x'.repeat(MAX_CARD_BYTES);
    });
    expect(() => decodeCard(resign(big, identity))).toThrow(DecodeError);
  });

  it('refuses a field changed without re-signing with VerificationError', () => {
    const card = createCard(options);
    const edits: Array<(m: CborMap) => void> = [
      (m) => (m.expires = card.expires + DAY),
      (m) => (m.oneTime = false),
      (m) => (m.name = 'Mallory'),
      (m) => (m.relays = [relay('evil')]),
      (m) => (m.queue = { relay: relay('evil'), sid: card.queue.sid }),
      (m) => (m.signedPrekey = generateDhKeyPair(rng).publicKey),
      (m) => (m.kemKey = generateXwingKeyPair(rng).publicKey),
      (m) => (m.identityKey = generateSignKeyPair(rng).publicKey),
      (m) => delete m.name,
    ];
    for (const edit of edits) {
      expect(() => decodeCard(encodeCbor(editedMap(card, edit)))).toThrow(VerificationError);
    }
  });

  it('refuses well-signed but malformed cards with DecodeError', () => {
    const card = createCard(options);
    const bad: Array<(m: CborMap) => void> = [
      (m) => (m.extra = 1),
      (m) => (m.queue = { relay: card.queue.relay, sid: card.queue.sid, extra: 1 }),
      (m) => (m.queue = { relay: card.queue.relay, sid: new Uint8Array(23) }),
      (m) => (m.queue = { relay: ` ${card.queue.relay}`, sid: card.queue.sid }),
      (m) =>
        (m.queue = {
          relay: `${card.queue.relay.replace('?transport=wss', '')}?transport=ws`,
          sid: card.queue.sid,
        }),
      (m) => (m.relays = ['https://example.org']),
      (m) => (m.relays = [relay('a'), relay('a')]),
      (m) => (m.relays = Array.from({ length: 9 }, (_, i) => relay(`r${i}`))),
      (m) => (m.name = ''),
      (m) => (m.name = 'a\u0007b'),
      (m) => (m.name = 'evil\u202egnp.exe'),
      (m) => (m.name = '字'.repeat(65)),
      (m) => (m.expires = -1),
      (m) => (m.oneTime = 1),
      (m) => (m.kemKey = new Uint8Array(1184)),
      (m) => delete m.expires,
    ];
    for (const edit of bad) {
      expect(() => decodeCard(resign(editedMap(card, edit), identity))).toThrow(DecodeError);
    }
  });

  it('refuses an unknown version with ProtocolError', () => {
    const m = editedMap(createCard(options), (x) => (x.v = 2));
    expect(() => decodeCard(resign(m, identity))).toThrow(ProtocolError);
  });

  it('accepts 64 characters in a name, counted as code points', () => {
    const card = createCard({ ...options, name: '🐦'.repeat(64) });
    expect(decodeCard(encodeCard(card)).name).toBe('🐦'.repeat(64));
    expect(() => createCard({ ...options, name: '🐦'.repeat(65) })).toThrow(UsageError);
  });

  it('canonicalises relay addresses at creation and checks arguments', () => {
    const card = createCard({
      ...options,
      queue: { relay: `  ${options.queue.relay}\n`, sid: options.queue.sid },
    });
    expect(card.queue.relay).toBe(options.queue.relay);
    expect(() => createCard({ ...options, relays: ['nope'] })).toThrow(UsageError);
    expect(() => createCard({ ...options, queue: { relay: 'nope', sid: options.queue.sid } })).toThrow(
      UsageError,
    );
    expect(() =>
      createCard({ ...options, queue: { relay: options.queue.relay, sid: new Uint8Array(16) } }),
    ).toThrow(UsageError);
    expect(() => createCard({ ...options, kemKey: new Uint8Array(32) })).toThrow(UsageError);
    expect(() => createCard({ ...options, signedPrekey: new Uint8Array(33) })).toThrow(UsageError);
    expect(() => createCard({ ...options, expires: 1.5 })).toThrow(UsageError);
    expect(() => createCard({ ...options, relays: [relay('a'), relay('a')] })).toThrow(UsageError);
    expect(() => createCard({ ...options, name: '' })).toThrow(UsageError);
    expect(createCard({ ...options, identityKey: identity.publicKey }).identityKey).toEqual(
      identity.publicKey,
    );
    expect(() => createCard({ ...options, identityKey: rng.bytes(32) })).toThrow(UsageError);
  });
});

describe('card expiry', () => {
  it('is usable until it expires, then ProtocolError', () => {
    const card = createCard(options);
    expect(() => checkCardUsable(card, NOW)).not.toThrow();
    expect(() => checkCardUsable(card, card.expires - 1)).not.toThrow();
    expect(() => checkCardUsable(card, card.expires)).toThrow(ProtocolError);
    expect(() => checkCardUsable(card, card.expires + DAY)).toThrow(ProtocolError);
    expect(() => checkCardUsable(card, Number.NaN)).toThrow(UsageError);
  });
});

describe('card links', () => {
  it('round-trips, with surrounding whitespace and any case of the scheme', () => {
    const card = createCard(options);
    const link = cardToLink(card);
    expect(link.startsWith('parus:')).toBe(true);
    expect(link.startsWith('parus://')).toBe(false);
    expect(cardFromLink(link)).toEqual(card);
    expect(cardFromLink(`\n  ${link}\r\n`)).toEqual(card);
    expect(cardFromLink(`PARUS:${link.slice(6)}`)).toEqual(card);
  });

  it('refuses garbage with DecodeError', () => {
    const link = cardToLink(createCard(options));
    const garbage = [
      '',
      'hello',
      'parus:',
      'parus:!!!!',
      `${link}=`,
      `${link.slice(0, -1)}`,
      `x${link}`,
      `${link.slice(0, 40)} ${link.slice(40)}`,
      options.queue.relay,
      `parus:${toBase64Url(rng.bytes(1500))}`,
      `parus:${toBase64Url(encodeCbor({ v: 1 }))}`,
      `parus:${'A'.repeat(20_000)}`,
    ];
    for (const text of garbage) expect(() => cardFromLink(text), text.slice(0, 20)).toThrow(DecodeError);
    expect(() => cardFromLink(42 as unknown as string)).toThrow(DecodeError);
  });
});

describe('card as a PQXDH bundle', () => {
  it('lets the invitee agree keys with the inviter', () => {
    const spk = generateDhKeyPair(rng);
    const kem = generateXwingKeyPair(rng);
    const card = cardFromLink(
      cardToLink(createCard({ ...options, signedPrekey: spk.publicKey, kemKey: kem.publicKey })),
    );
    const invitee = generateSignKeyPair(rng);
    const { keys, init } = pqxdhInitiate({ rng, identity: invitee, bundle: card });
    const theirs = pqxdhRespond({
      identity,
      signedPrekey: spk,
      kemKeyPair: kem,
      peerIdentityKey: invitee.publicKey,
      init,
    });
    expect(toHex(theirs.sharedSecret)).toBe(toHex(keys.sharedSecret));
  });
});

describe('a card with a second queue (decision 0037)', () => {
  it('keeps a single-queue card byte for byte what it was before queue2 existed', () => {
    // Made with the code before decision 0037: same inputs, same bytes, same id.
    const golden = scriptedRandom('golden-card');
    const card = createCard({
      identity: generateSignKeyPair(golden),
      signedPrekey: generateDhKeyPair(golden).publicKey,
      kemKey: generateXwingKeyPair(golden).publicKey,
      queue: { relay: relay('home'), sid: golden.bytes(24) },
      relays: [relay('home')],
      name: 'Ming',
      expires: NOW + 7 * DAY,
      oneTime: true,
    });
    expect(toHex(cardId(card))).toBe('d6da8bbc4e1128f38ce03541894c501cb09477ca3cb4f42e0d0f72da6d839051');
    expect(Object.keys(decodeCbor(encodeCard(card)) as CborMap)).not.toContain('queue2');
    expect(decodeCard(encodeCard(card)).queue2).toBeUndefined();
  });

  it('round-trips, is signed, and names the second relay', () => {
    const queue2 = { relay: relay('backup', 'backup.example.net', 5223), sid: rng.bytes(24) };
    const card = createCard({ ...options, queue2 });
    const back = cardFromLink(cardToLink(card));
    expect(back).toEqual(card);
    expect(back.queue2?.relay).toBe(queue2.relay);
    expect(equalBytes(back.queue2!.sid, queue2.sid)).toBe(true);
    // Changed without re-signing: refused.
    const moved = editedMap(card, (m) => (m.queue2 = { relay: relay('evil'), sid: queue2.sid }));
    expect(() => decodeCard(encodeCbor(moved))).toThrow(VerificationError);
    const dropped = editedMap(card, (m) => delete m.queue2);
    expect(() => decodeCard(encodeCbor(dropped))).toThrow(VerificationError);
  });

  it('refuses a malformed second queue with DecodeError, and a bad one at creation with UsageError', () => {
    const queue2 = { relay: relay('backup'), sid: rng.bytes(24) };
    const card = createCard({ ...options, queue2 });
    const bad: Array<(m: CborMap) => void> = [
      (m) => (m.queue2 = { relay: card.queue.relay, sid: queue2.sid }),
      (m) => (m.queue2 = { relay: queue2.relay, sid: queue2.sid, extra: 1 }),
      (m) => (m.queue2 = { relay: queue2.relay, sid: new Uint8Array(25) }),
      (m) => (m.queue2 = { relay: `${queue2.relay} `, sid: queue2.sid }),
      (m) => (m.queue2 = { relay: 'x'.repeat(600), sid: queue2.sid }),
      (m) => (m.queue2 = [queue2.relay]),
    ];
    for (const edit of bad) {
      expect(() => decodeCard(resign(editedMap(card, edit), identity))).toThrow(DecodeError);
    }
    expect(() => createCard({ ...options, queue2: { relay: options.queue.relay, sid: queue2.sid } })).toThrow(
      UsageError,
    );
    expect(() => createCard({ ...options, queue2: { relay: 'nope', sid: queue2.sid } })).toThrow(UsageError);
    expect(() => createCard({ ...options, queue2: { relay: queue2.relay, sid: new Uint8Array(3) } })).toThrow(
      UsageError,
    );
  });
});
