import { beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../src/bytes.ts';
import { generateSignKeyPair, initCrypto } from '../src/crypto.ts';
import {
  LINK_OFFER_TTL_MS,
  LinkTransferReader,
  answerLinkOffer,
  createLinkOffer,
  decodeLinkMessage,
  encodeLinkMessage,
  encodeLinkOffer,
  parseLinkOffer,
  receiveLinkAnswer,
  receiveLinkNonce,
  receiveLinkReveal,
  sealLinkTransfer,
  type LinkMessage,
} from '../src/device-link.ts';
import {
  DecodeError,
  ExpiredError,
  ProtocolError,
  ReplayError,
  UsageError,
  VerificationError,
} from '../src/errors.ts';
import { formatRelayAddress, relayFingerprint } from '../src/relay-address.ts';
import {
  expectMutationsRejected,
  expectTruncationsRejected,
  scriptedRandom,
} from './contact-test-helpers.ts';
import frozen from './vectors/device-link.json' with { type: 'json' };

const NOW = 1_765_000_000_000;
let relay: string;

beforeAll(async () => {
  await initCrypto();
  const key = generateSignKeyPair(scriptedRandom('device-link-relay')).publicKey;
  relay = formatRelayAddress({
    fingerprint: relayFingerprint(key),
    host: '127.0.0.1',
    port: 7000,
    transport: 'ws',
  });
});

/** A full handshake; `label` seeds both sides' randomness. */
function handshake(label: string) {
  const rngN = scriptedRandom(`${label}-new`);
  const rngE = scriptedRandom(`${label}-old`);
  const { link, state: n0 } = createLinkOffer({
    rng: rngN,
    relay,
    sid: rngN.bytes(24),
    now: NOW,
    name: 'new laptop',
  });
  const offer = parseLinkOffer(link);
  const answered = new Set<string>();
  const { state: e0, message: answer } = answerLinkOffer({
    offer,
    rng: rngE,
    now: NOW + 1000,
    relay,
    sid: rngE.bytes(24),
    answered: (id) => answered.has(id),
  });
  answered.add(toHex(offer.id));
  const { state: n1, reply: nonce } = receiveLinkAnswer(n0, decodeLinkMessage(answer), {
    rng: rngN,
    now: NOW + 2000,
  });
  const { state: e1, reply: reveal, session: sE } = receiveLinkNonce(e0, decodeLinkMessage(nonce));
  const { state: n2, session: sN } = receiveLinkReveal(n1, decodeLinkMessage(reveal));
  return { link, offer, answer, nonce, reveal, sE, sN, n0, n1, n2, e0, e1, answered, rngE, rngN };
}

describe('device link handshake', () => {
  it('both sides show the same code and hold matching keys', () => {
    const h = handshake('a');
    expect(h.sE.code).toMatch(/^\d{3} \d{3}$/);
    expect(h.sN.code).toBe(h.sE.code);
    expect(toHex(h.sN.sendKey)).toBe(toHex(h.sE.receiveKey));
    expect(toHex(h.sE.sendKey)).toBe(toHex(h.sN.receiveKey));
    expect(toHex(h.sN.sendKey)).not.toBe(toHex(h.sN.receiveKey));
    expect(h.offer.expires).toBe(NOW + LINK_OFFER_TTL_MS);
    expect(h.offer.name).toBe('new laptop');
  });

  it('matches the frozen vectors (never regenerate them)', () => {
    const h = handshake('frozen');
    const frames = sealLinkTransfer({
      key: h.sE.sendKey,
      id: h.offer.id,
      rng: scriptedRandom('frozen-transfer'),
      payload: utf8('the account snapshot'),
      chunkBytes: 8,
    });
    expect(h.link).toBe(frozen.link);
    expect(toHex(h.answer)).toBe(frozen.answer);
    expect(toHex(h.nonce)).toBe(frozen.nonce);
    expect(toHex(h.reveal)).toBe(frozen.reveal);
    expect(h.sN.code).toBe(frozen.code);
    expect(frames.map(toHex)).toEqual(frozen.frames);
    const reader = new LinkTransferReader(fromHex(frozen.newReceiveKey), h.offer.id);
    expect(toHex(h.sN.receiveKey)).toBe(frozen.newReceiveKey);
    let out: Uint8Array | undefined;
    for (const f of frozen.frames) out = reader.push(decodeLinkMessage(fromHex(f)));
    expect(new TextDecoder().decode(out)).toBe('the account snapshot');
  });

  it('refuses an expired link (ExpiredError) on both sides', () => {
    const h = handshake('expired');
    expect(() =>
      answerLinkOffer({
        offer: h.offer,
        rng: h.rngE,
        now: h.offer.expires + 1,
        relay,
        sid: h.rngE.bytes(24),
        answered: () => false,
      }),
    ).toThrow(ExpiredError);
    expect(() =>
      receiveLinkAnswer(h.n0, decodeLinkMessage(h.answer), { rng: h.rngN, now: h.offer.expires + 1 }),
    ).toThrow(ExpiredError);
  });

  it('refuses a replayed link code (ReplayError): answered twice, a second answer, a second reveal', () => {
    const h = handshake('replay');
    expect(() =>
      answerLinkOffer({
        offer: h.offer,
        rng: h.rngE,
        now: NOW + 5000,
        relay,
        sid: h.rngE.bytes(24),
        answered: (id) => h.answered.has(id),
      }),
    ).toThrow(ReplayError);
    // Somebody else who saw the link answers too, after the first answer.
    const other = answerLinkOffer({
      offer: h.offer,
      rng: scriptedRandom('intruder'),
      now: NOW + 5000,
      relay,
      sid: h.rngE.bytes(24),
      answered: () => false,
    });
    expect(() =>
      receiveLinkAnswer(h.n1, decodeLinkMessage(other.message), { rng: h.rngN, now: NOW + 6000 }),
    ).toThrow(ReplayError);
    expect(() => receiveLinkReveal(h.n2, decodeLinkMessage(h.reveal))).toThrow(ReplayError);
    expect(() => receiveLinkNonce(h.e1, decodeLinkMessage(h.nonce))).toThrow(ReplayError);
  });

  it('refuses a reveal that does not open the commitment (VerificationError)', () => {
    const h = handshake('commit');
    const reveal = decodeLinkMessage(h.reveal) as Extract<LinkMessage, { t: 'reveal' }>;
    const bad = { ...reveal, n: scriptedRandom('other nonce').bytes(32) };
    expect(() => receiveLinkReveal(h.n1, bad)).toThrow(VerificationError);
  });

  it('a relay in the middle with its own keys gets different codes on the two screens', () => {
    // The relay answers the new device itself, and offers the old one a link of its own.
    const h = handshake('mitm');
    const m = scriptedRandom('mitm');
    const fake = createLinkOffer({ rng: m, relay, sid: m.bytes(24), now: NOW, name: 'new laptop' });
    const toOld = answerLinkOffer({
      offer: parseLinkOffer(fake.link),
      rng: h.rngE,
      now: NOW,
      relay,
      sid: m.bytes(24),
      answered: () => false,
    });
    const towardNew = answerLinkOffer({
      offer: h.offer,
      rng: m,
      now: NOW,
      relay,
      sid: m.bytes(24),
      answered: () => false,
    });
    const n1 = receiveLinkAnswer(h.n0, decodeLinkMessage(towardNew.message), { rng: h.rngN, now: NOW });
    const f1 = receiveLinkAnswer(fake.state, decodeLinkMessage(toOld.message), { rng: m, now: NOW });
    const old = receiveLinkNonce(toOld.state, decodeLinkMessage(f1.reply));
    const neu = receiveLinkReveal(
      n1.state,
      decodeLinkMessage(receiveLinkNonce(towardNew.state, decodeLinkMessage(n1.reply)).reply),
    );
    expect(neu.session.code).not.toBe(old.session.code);
  });

  it('refuses messages of another link and out of turn (ProtocolError)', () => {
    const a = handshake('one');
    const b = handshake('two');
    expect(() => receiveLinkAnswer(a.n0, decodeLinkMessage(b.answer), { rng: a.rngN, now: NOW })).toThrow(
      ProtocolError,
    );
    expect(() => receiveLinkReveal(a.n0, decodeLinkMessage(a.reveal))).toThrow(ProtocolError);
    expect(() => receiveLinkNonce(a.e0, decodeLinkMessage(a.answer))).toThrow(ProtocolError);
  });

  it('refuses malformed links and messages with DecodeError', () => {
    const h = handshake('codec');
    expect(encodeLinkOffer(parseLinkOffer(h.link))).toBe(h.link);
    expect(() => parseLinkOffer('parus:room/abc')).toThrow(DecodeError);
    expect(() => parseLinkOffer(h.link.slice(0, -4))).toThrow(DecodeError);
    expect(() => parseLinkOffer(h.link + 'A'.repeat(3000))).toThrow(DecodeError);
    for (const m of [h.answer, h.nonce, h.reveal]) {
      expect(toHex(encodeLinkMessage(decodeLinkMessage(m)))).toBe(toHex(m));
      expectTruncationsRejected(m, decodeLinkMessage);
      expectMutationsRejected(m, decodeLinkMessage, {
        count: 200,
        seed: 3,
        versionOffset: 3,
        mayDecode: true,
      });
    }
    expect(() =>
      createLinkOffer({
        rng: h.rngN,
        relay,
        sid: new Uint8Array(24),
        now: NOW,
        name: 'x',
        ttlMs: 10 * 3600_000,
      }),
    ).toThrow(UsageError);
  });
});

describe('device link transfer', () => {
  it('carries a payload of many frames, and refuses tampered, reordered, cut and replayed frames', () => {
    const h = handshake('transfer');
    const payload = scriptedRandom('payload').bytes(100_000);
    const frames = () =>
      sealLinkTransfer({
        key: h.sE.sendKey,
        id: h.offer.id,
        rng: scriptedRandom('t'),
        payload,
        chunkBytes: 16_384,
      });
    const f = frames();
    expect(f.length).toBe(7);
    const reader = new LinkTransferReader(h.sN.receiveKey, h.offer.id);
    let out: Uint8Array | undefined;
    for (const [i, frame] of f.entries()) {
      out = reader.push(decodeLinkMessage(frame));
      if (i === 2) expect(() => reader.push(decodeLinkMessage(f[1]!))).toThrow(ReplayError);
    }
    expect(toHex(out!)).toBe(toHex(payload));
    expect(() => reader.push(decodeLinkMessage(f[6]!))).toThrow(ReplayError);

    const tampered = decodeLinkMessage(f[1]!) as Extract<LinkMessage, { t: 'data' }>;
    const c = tampered.c.slice();
    c[5]! ^= 1;
    const r2 = new LinkTransferReader(h.sN.receiveKey, h.offer.id);
    r2.push(decodeLinkMessage(f[0]!));
    expect(() => r2.push({ ...tampered, c })).toThrow(VerificationError);

    const r3 = new LinkTransferReader(h.sN.receiveKey, h.offer.id);
    r3.push(decodeLinkMessage(f[0]!));
    expect(() => r3.push(decodeLinkMessage(f[2]!))).toThrow(ProtocolError);

    // Cut short: the last frame of a shorter transfer under the same key is not the end of this one.
    const r4 = new LinkTransferReader(h.sN.receiveKey, h.offer.id);
    for (const frame of f.slice(0, 6)) expect(r4.push(decodeLinkMessage(frame))).toBeUndefined();
    expect(r4.done).toBe(false);

    // The wrong direction's key does not open it.
    const r5 = new LinkTransferReader(h.sN.sendKey, h.offer.id);
    expect(() => r5.push(decodeLinkMessage(f[0]!))).toThrow(VerificationError);

    // Over the reader's bound.
    const r6 = new LinkTransferReader(h.sN.receiveKey, h.offer.id, 20_000);
    r6.push(decodeLinkMessage(f[0]!));
    expect(() => r6.push(decodeLinkMessage(f[1]!))).toThrow(DecodeError);
  });
});
