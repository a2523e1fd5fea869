// Short invitation links and card records (decision 0045): round trip, truncated, mutated and
// oversized input, and the seal that binds a record to its link's key.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DecodeError,
  MAX_SHORT_LINK_CHARS,
  VerificationError,
  cardToLink,
  createCard,
  generateDhKeyPair,
  generateSignKeyPair,
  initCrypto,
  isShortLink,
  openCardRecord,
  parseShortLink,
  sealCardRecord,
  shortLinkToText,
  systemRandom,
  toBase64Url,
  fromBase64Url,
  xwingKeyPairFromSeed,
  createRoomLink,
  decodeCbor,
  encodeCard,
  encodeCbor,
  isShortRoomLink,
  openRoomRecord,
  parseShortRoomLink,
  seal,
  sealRoomRecord,
  shortRoomLinkToText,
  type RendezvousCard,
} from '../src/index.ts';

const RELAY = `parus://${toBase64Url(new Uint8Array(32).fill(7))}@127.0.0.1:7400`;
let card: RendezvousCard;

beforeAll(async () => {
  await initCrypto();
  card = createCard({
    identity: generateSignKeyPair(systemRandom),
    signedPrekey: generateDhKeyPair(systemRandom).publicKey,
    kemKey: xwingKeyPairFromSeed(systemRandom.bytes(32)).publicKey,
    queue: { relay: RELAY, sid: systemRandom.bytes(24) },
    relays: [RELAY],
    name: '阿美',
    expires: Date.now() + 86_400_000,
    oneTime: true,
  });
});

describe('short links', () => {
  it('round-trip, are short, and keep the relay, id and key', () => {
    const link = { relay: RELAY, cid: systemRandom.bytes(16), key: systemRandom.bytes(32) };
    const text = shortLinkToText(link);
    expect(text.length).toBeLessThan(150);
    expect(cardToLink(card).length).toBeGreaterThan(2000);
    expect(isShortLink(`  ${text.toUpperCase().slice(0, 8)}${text.slice(8)} `)).toBe(true);
    expect(parseShortLink(` ${text}\n`)).toEqual(link);
    const wss = {
      ...link,
      relay: `parus://${toBase64Url(new Uint8Array(32))}@relay.example.tw:443?transport=wss`,
    };
    expect(parseShortLink(shortLinkToText(wss))).toEqual(wss);
  });

  it('refuse truncated, mutated and oversized links with DecodeError', () => {
    const text = shortLinkToText({ relay: RELAY, cid: systemRandom.bytes(16), key: systemRandom.bytes(32) });
    const bytes = fromBase64Url(text.slice(8));
    expect(() => parseShortLink(`parus:i/${toBase64Url(bytes.slice(0, 60))}`)).toThrow(DecodeError);
    const version = bytes.slice();
    version[0] = 2;
    expect(() => parseShortLink(`parus:i/${toBase64Url(version)}`)).toThrow(DecodeError);
    const transport = bytes.slice();
    transport[1 + 32 + 16 + 32 + 2] = 9;
    expect(() => parseShortLink(`parus:i/${toBase64Url(transport)}`)).toThrow(DecodeError);
    const host = bytes.slice();
    host[host.length - 1] = 0x20; // a space in the host name
    expect(() => parseShortLink(`parus:i/${toBase64Url(host)}`)).toThrow(DecodeError);
    expect(() => parseShortLink(`parus:i/${'A'.repeat(MAX_SHORT_LINK_CHARS)}`)).toThrow(DecodeError);
    expect(() => parseShortLink(cardToLink(card))).toThrow(DecodeError);
  });
});

describe('card records', () => {
  it('open with the key they were sealed under, and only with it', () => {
    const key = systemRandom.bytes(32);
    const data = sealCardRecord(card, key, systemRandom);
    expect(cardToLink(openCardRecord(data, key))).toBe(cardToLink(card));
    expect(() => openCardRecord(data, systemRandom.bytes(32))).toThrow(VerificationError);
    const flipped = data.slice();
    flipped[40]! ^= 1;
    expect(() => openCardRecord(flipped, key)).toThrow(VerificationError);
    expect(() => openCardRecord(data.slice(0, 30), key)).toThrow(DecodeError);
    expect(() => openCardRecord(new Uint8Array(9000), key)).toThrow(DecodeError);
  });

  it('refuse a card whose signature fails, even sealed with the right key', () => {
    const key = systemRandom.bytes(32);
    const sig = card.sig.slice();
    sig[3]! ^= 1;
    expect(() => openCardRecord(sealCardRecord({ ...card, sig }, key, systemRandom), key)).toThrow(
      VerificationError,
    );
  });
});

describe('short room links (decision 0059)', () => {
  const keeper = () => generateSignKeyPair(systemRandom);
  const roomLink = (k = keeper()): string =>
    createRoomLink(
      {
        group: systemRandom.bytes(16),
        name: '台北咖啡同好會',
        keeper: k.publicKey,
        card: encodeCard(
          createCard({
            identity: generateSignKeyPair(systemRandom),
            signedPrekey: generateDhKeyPair(systemRandom).publicKey,
            kemKey: xwingKeyPairFromSeed(systemRandom.bytes(32)).publicKey,
            queue: { relay: RELAY, sid: systemRandom.bytes(24) },
            relays: [RELAY],
            expires: Date.now() + 86_400_000,
            oneTime: false,
          }),
        ),
        secret: systemRandom.bytes(32),
      },
      k,
    );

  it('round-trip under their own prefix, which neither form takes for the other', () => {
    const link = { relay: RELAY, cid: systemRandom.bytes(16), key: systemRandom.bytes(32) };
    const text = shortRoomLinkToText(link);
    expect(text.startsWith('parus:r/')).toBe(true);
    expect(text.length).toBeLessThan(150);
    expect(parseShortRoomLink(` ${text}\n`)).toEqual(link);
    expect(isShortRoomLink(text)).toBe(true);
    expect(isShortLink(text)).toBe(false);
    expect(isShortRoomLink(shortLinkToText(link))).toBe(false);
    expect(() => parseShortLink(text)).toThrow(DecodeError);
    expect(() => parseShortRoomLink(shortLinkToText(link))).toThrow(DecodeError);
    expect(() => parseShortRoomLink('parus:r/AAAA')).toThrow(DecodeError);
  });

  it('seal the signed room link: it opens with the link key only, and is checked as any room link', () => {
    const key = systemRandom.bytes(32);
    const long = roomLink();
    const data = sealRoomRecord(long, key, systemRandom);
    expect(openRoomRecord(data, key)).toBe(long);
    expect(() => openRoomRecord(data, systemRandom.bytes(32))).toThrow(VerificationError);
    const flipped = data.slice();
    flipped[50]! ^= 1;
    expect(() => openRoomRecord(flipped, key)).toThrow(VerificationError);
    // A card's record under the same key does not open as a room's (another context), nor the reverse.
    expect(() => openRoomRecord(sealCardRecord(card, key, systemRandom), key)).toThrow(VerificationError);
    expect(() => openCardRecord(data, key)).toThrow(VerificationError);
    expect(() => openRoomRecord(data.slice(0, 30), key)).toThrow(DecodeError);
    expect(() => sealRoomRecord('parus:room/AAAA', key, systemRandom)).toThrow(DecodeError);
  });

  it('refuse a room link whose signature fails, even sealed with the right key', () => {
    const key = systemRandom.bytes(32);
    const long = roomLink();
    const m = decodeCbor(fromBase64Url(long.slice('parus:room/'.length))) as Record<string, Uint8Array>;
    const sig = m.sig!.slice();
    sig[0]! ^= 1;
    const body = encodeCbor({ ...m, sig });
    // Sealed by hand: sealRoomRecord itself refuses to seal a link that does not verify.
    const nonce = systemRandom.bytes(24);
    const data = new Uint8Array([
      ...nonce,
      ...seal(key, nonce, body, new TextEncoder().encode('parus-short-room-v1')),
    ]);
    expect(() => openRoomRecord(data, key)).toThrow(VerificationError);
  });
});
