/**
 * Sender Keys (sender-key.ts): a sender's chain and its receivers, with a scripted Random so
 * every run is the same. Every decrypt call checks that the state it was given did not change.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, toHex, u32be, utf8 } from '../src/bytes.ts';
import { hkdf, hmacSha256, initCrypto, seal, sign } from '../src/crypto.ts';
import {
  DecodeError,
  ProtocolError,
  QuotaError,
  ReplayError,
  UsageError,
  VerificationError,
} from '../src/errors.ts';
import {
  MAX_SENDER_SKIP,
  MAX_SENDER_SKIPPED,
  SENDER_CHAIN_MAX_AGE_MS,
  SENDER_CHAIN_MAX_MESSAGES,
  SENDER_MAX_PLAINTEXT_BYTES,
  SENDER_MESSAGE_OVERHEAD,
  decodeSenderChain,
  decodeSenderKeyDistribution,
  decodeSenderMessage,
  decodeSenderReceiverState,
  encodeSenderChain,
  encodeSenderKeyDistribution,
  encodeSenderMessage,
  encodeSenderReceiverState,
  rotateSenderChain,
  senderChainNeedsRotation,
  senderDecrypt,
  senderEncrypt,
  senderKeyDistribution,
  senderReceiverFromDistribution,
  type SenderChain,
  type SenderReceiverState,
} from '../src/sender-key.ts';
import {
  expectMutationsRejected,
  expectTruncationsRejected,
  scriptedRandom,
} from './contact-test-helpers.ts';

const rng = scriptedRandom('sender-key');
const AD = utf8('group id || sender device');
let group: Uint8Array;

beforeAll(async () => {
  await initCrypto();
  group = rng.bytes(16);
});

/** Encrypts `texts` in order; returns the chain after them and the messages. */
function sendAll(
  chain: SenderChain,
  texts: readonly string[],
): { chain: SenderChain; messages: Uint8Array[] } {
  const messages: Uint8Array[] = [];
  for (const text of texts) {
    const out = senderEncrypt(chain, utf8(text), AD);
    chain = out.chain;
    messages.push(out.message);
  }
  return { chain, messages };
}

/** senderDecrypt, checking that the state passed in is left as it was. */
function receive(
  state: SenderReceiverState,
  message: Uint8Array,
  ad: Uint8Array = AD,
): { state: SenderReceiverState; text: string } {
  const before = encodeSenderReceiverState(state);
  try {
    const out = senderDecrypt(state, message, ad);
    return { state: out.state, text: new TextDecoder().decode(out.plaintext) };
  } finally {
    expect(toHex(encodeSenderReceiverState(state))).toBe(toHex(before));
  }
}

/** The chain `n` steps on, by the documented KDF_CK (next chain key = HMAC(ck, 0x02)). */
function advanced(chain: SenderChain, n: number): SenderChain {
  let chainKey = chain.chainKey;
  for (let i = 0; i < n; i++) chainKey = hmacSha256(chainKey, Uint8Array.of(0x02));
  return { ...chain, iteration: chain.iteration + n, chainKey };
}

function receiverOf(chain: SenderChain): SenderReceiverState {
  return senderReceiverFromDistribution(
    decodeSenderKeyDistribution(encodeSenderKeyDistribution(senderKeyDistribution(chain, group))),
  );
}

describe('sender keys', () => {
  it('round trip: every member decrypts in order, and the sender’s chain moves on', () => {
    const chain0 = rotateSenderChain(rng);
    let bob = receiverOf(chain0);
    let carol = receiverOf(chain0);
    const texts = ['你好', 'hello', '', 'x'.repeat(1000)];
    const { chain, messages } = sendAll(chain0, texts);
    expect(chain.iteration).toBe(4);
    expect(chain0.iteration).toBe(0); // the input chain is untouched
    messages.forEach((message, i) => {
      expect(message.length).toBe(SENDER_MESSAGE_OVERHEAD + utf8(texts[i]!).length);
      const b = receive(bob, message);
      const c = receive(carol, message);
      expect(b.text).toBe(texts[i]);
      expect(c.text).toBe(texts[i]);
      bob = b.state;
      carol = c.state;
    });
    expect(bob.iteration).toBe(4);
    expect(bob.skipped).toEqual([]);
    // A message of the largest size goes through.
    const big = new Uint8Array(SENDER_MAX_PLAINTEXT_BYTES).fill(7);
    const last = senderEncrypt(chain, big, AD);
    expect(senderDecrypt(bob, last.message, AD).plaintext).toEqual(big);
  });

  it('decrypts out of order within the skip window, each message once', () => {
    const chain0 = rotateSenderChain(rng);
    let bob = receiverOf(chain0);
    const texts = Array.from({ length: 12 }, (_, i) => `m${i}`);
    const { messages } = sendAll(chain0, texts);
    const order = [5, 0, 11, 1, 2, 10, 3, 4, 9, 6, 8, 7];
    for (const i of order) {
      const out = receive(bob, messages[i]!);
      expect(out.text).toBe(texts[i]);
      bob = out.state;
    }
    expect(bob.iteration).toBe(12);
    expect(bob.skipped).toEqual([]); // every skipped key was used, hence deleted
    for (const message of messages) expect(() => receive(bob, message)).toThrow(ReplayError);
  });

  it('refuses a jump beyond MAX_SENDER_SKIP with QuotaError, state unchanged; keeps the newest skipped keys', () => {
    const chain0 = rotateSenderChain(rng);
    const bob = receiverOf(chain0);
    const tooFar = senderEncrypt(advanced(chain0, MAX_SENDER_SKIP + 1), utf8('too far'), AD).message;
    expect(() => receive(bob, tooFar)).toThrow(QuotaError);
    // Exactly MAX_SENDER_SKIP is allowed; only the newest MAX_SENDER_SKIPPED skipped keys are kept.
    const edge = senderEncrypt(advanced(chain0, MAX_SENDER_SKIP), utf8('edge'), AD).message;
    const after = receive(bob, edge);
    expect(after.text).toBe('edge');
    expect(after.state.iteration).toBe(MAX_SENDER_SKIP + 1);
    expect(after.state.skipped).toHaveLength(MAX_SENDER_SKIPPED);
    expect(after.state.skipped[0]!.iteration).toBe(MAX_SENDER_SKIP - MAX_SENDER_SKIPPED);
    const dropped = senderEncrypt(advanced(chain0, 10), utf8('dropped'), AD).message;
    expect(() => receive(after.state, dropped)).toThrow(ReplayError);
    const kept = senderEncrypt(advanced(chain0, MAX_SENDER_SKIP - 1), utf8('kept'), AD).message;
    expect(receive(after.state, kept).text).toBe('kept');
    // And from the new position, the window starts again.
    const next = senderEncrypt(advanced(chain0, 2 * MAX_SENDER_SKIP + 1), utf8('next'), AD).message;
    expect(receive(after.state, next).text).toBe('next');
  });

  it('refuses a replay with ReplayError, in order and out of order', () => {
    const chain0 = rotateSenderChain(rng);
    const { messages } = sendAll(chain0, ['a', 'b', 'c']);
    let bob = receiverOf(chain0);
    bob = receive(bob, messages[2]!).state;
    expect(() => receive(bob, messages[2]!)).toThrow(ReplayError);
    bob = receive(bob, messages[0]!).state;
    expect(() => receive(bob, messages[0]!)).toThrow(ReplayError);
    expect(receive(bob, messages[1]!).text).toBe('b');
  });

  it('refuses tampering with VerificationError, state unchanged', () => {
    const chain0 = rotateSenderChain(rng);
    const bob = receiverOf(chain0);
    const { messages } = sendAll(chain0, ['tamper me']);
    const message = messages[0]!;
    for (let position = 1; position < message.length; position++) {
      const bad = message.slice();
      bad[position]! ^= 0x20;
      let error: unknown;
      try {
        receive(bob, bad);
      } catch (e) {
        error = e;
      }
      // The chain id bytes name another chain; the last iteration value is not a valid one.
      const expected = position <= 16 ? ProtocolError : VerificationError;
      if (!(error instanceof expected) && !(error instanceof DecodeError))
        throw new Error(`byte ${position}: ${String(error)}`);
    }
    // Every member knows the chain key, but only the sender has the signing key: a message signed
    // by any other key is refused.
    const m = decodeSenderMessage(message);
    const header = message.subarray(0, 21);
    const otherKey = rotateSenderChain(rng).signingKey.secretKey;
    const forged = encodeSenderMessage({
      ...m,
      signature: sign(otherKey, concatBytes(utf8('parus-sender-key-sig-v1'), header, m.ciphertext)),
    });
    expect(() => receive(bob, forged)).toThrow(VerificationError);
    // The signature holds but the associated data differs: the AEAD tag fails.
    expect(() => receive(bob, message, utf8('another group'))).toThrow(VerificationError);
    expect(receive(bob, message).text).toBe('tamper me');
  });

  it('a removed member with an old distribution cannot decrypt messages from the rotated chain', () => {
    const old = rotateSenderChain(rng);
    const bobOld = receiverOf(old);
    const carolOld = receiverOf(old);
    const { messages: before } = sendAll(old, ['before removal']);
    expect(receive(carolOld, before[0]!).text).toBe('before removal');

    // Carol is removed: Alice rotates and distributes the new chain to Bob only.
    const rotated = rotateSenderChain(rng);
    const bob = receiverOf(rotated);
    const { messages } = sendAll(rotated, ['after removal']);
    expect(receive(bob, messages[0]!).text).toBe('after removal');
    expect(() => receive(carolOld, messages[0]!)).toThrow(ProtocolError); // another chain
    // Even knowing the new chain's id and signing key, her old chain key opens nothing.
    const carolGuess: SenderReceiverState = {
      ...carolOld,
      chainId: rotated.chainId,
      signingPublicKey: rotated.signingKey.publicKey,
    };
    expect(() => receive(carolGuess, messages[0]!)).toThrow(VerificationError);
    expect(() => receive(bobOld, messages[0]!)).toThrow(ProtocolError);
  });

  it('a newcomer given the current chain cannot read earlier messages', () => {
    const chain0 = rotateSenderChain(rng);
    const { chain, messages } = sendAll(chain0, ['old 1', 'old 2']);
    const newcomer = receiverOf(chain);
    expect(newcomer.iteration).toBe(2);
    for (const message of messages) expect(() => receive(newcomer, message)).toThrow(ReplayError);
    expect(receive(newcomer, senderEncrypt(chain, utf8('new'), AD).message).text).toBe('new');
  });

  it('says when a chain must rotate: 100 messages, 7 days, or a clock gone back', () => {
    const chain = rotateSenderChain(rng);
    const t = 1_750_000_000_000;
    expect(senderChainNeedsRotation(chain, t, t)).toBe(false);
    expect(senderChainNeedsRotation(advanced(chain, SENDER_CHAIN_MAX_MESSAGES - 1), t, t)).toBe(false);
    expect(senderChainNeedsRotation(advanced(chain, SENDER_CHAIN_MAX_MESSAGES), t, t)).toBe(true);
    expect(senderChainNeedsRotation(chain, t + SENDER_CHAIN_MAX_AGE_MS - 1, t)).toBe(false);
    expect(senderChainNeedsRotation(chain, t + SENDER_CHAIN_MAX_AGE_MS, t)).toBe(true);
    expect(senderChainNeedsRotation(chain, t - 1, t)).toBe(true);
    expect(SENDER_CHAIN_MAX_AGE_MS).toBe(7 * 24 * 3600 * 1000);
    expect(() => senderChainNeedsRotation(chain, -1, t)).toThrow(UsageError);
    expect(() => senderChainNeedsRotation(chain, t, 1.5)).toThrow(UsageError);
  });

  it('checks arguments with UsageError and exhausts a chain with QuotaError', () => {
    const chain = rotateSenderChain(rng);
    const bob = receiverOf(chain);
    expect(() => senderEncrypt(chain, new Uint8Array(SENDER_MAX_PLAINTEXT_BYTES + 1), AD)).toThrow(
      UsageError,
    );
    expect(() => senderEncrypt(chain, 'text' as unknown as Uint8Array, AD)).toThrow(UsageError);
    expect(() => senderEncrypt({ ...chain, chainKey: new Uint8Array(31) }, utf8('x'), AD)).toThrow(
      UsageError,
    );
    expect(() => senderEncrypt({ ...chain, iteration: -1 }, utf8('x'), AD)).toThrow(UsageError);
    expect(() => senderEncrypt({ ...chain, iteration: 0xffffffff }, utf8('x'), AD)).toThrow(QuotaError);
    const message = senderEncrypt(chain, utf8('x'), AD).message;
    expect(() => senderDecrypt(bob, message, 'ad' as unknown as Uint8Array)).toThrow(UsageError);
    expect(() =>
      senderDecrypt({ ...bob, skipped: [{ iteration: 5, messageKey: new Uint8Array(32) }] }, message, AD),
    ).toThrow(UsageError);
    expect(() => senderKeyDistribution(chain, new Uint8Array(8))).toThrow(UsageError);
  });
});

describe('sender key codecs', () => {
  it('messages: refuses short, long, unknown version and the reserved last iteration', () => {
    const chain = rotateSenderChain(rng);
    const message = senderEncrypt(chain, utf8('codec'), AD).message;
    const m = decodeSenderMessage(message);
    expect(toHex(encodeSenderMessage(m))).toBe(toHex(message));
    expect(m.iteration).toBe(0);
    expect(m.chainId).toEqual(chain.chainId);
    expect(() => decodeSenderMessage(message.subarray(0, SENDER_MESSAGE_OVERHEAD - 1))).toThrow(DecodeError);
    expect(() =>
      decodeSenderMessage(new Uint8Array(SENDER_MESSAGE_OVERHEAD + SENDER_MAX_PLAINTEXT_BYTES + 1)),
    ).toThrow(DecodeError);
    const v2 = message.slice();
    v2[0] = 2;
    expect(() => decodeSenderMessage(v2)).toThrow(DecodeError);
    const last = message.slice();
    last.set(u32be(0xffffffff), 17);
    expect(() => decodeSenderMessage(last)).toThrow(DecodeError);
    expect(() => encodeSenderMessage({ ...m, iteration: 0xffffffff })).toThrow(UsageError);
    // Every truncation is refused by senderDecrypt, by the decoder or by the signature.
    const bob = receiverOf(chain);
    for (let length = 0; length < message.length; length++) {
      expect(() => senderDecrypt(bob, message.subarray(0, length), AD)).toThrow(
        length < SENDER_MESSAGE_OVERHEAD ? DecodeError : VerificationError,
      );
    }
  });

  it('distributions: round trip, truncations, mutations, wrong sizes', () => {
    const d = senderKeyDistribution(advanced(rotateSenderChain(rng), 42), group);
    const bytes = encodeSenderKeyDistribution(d);
    expect(decodeSenderKeyDistribution(bytes)).toEqual(d);
    expectTruncationsRejected(bytes, decodeSenderKeyDistribution);
    // Unsigned (the 1:1 session authenticates it): a mutation either decodes or is a DecodeError.
    expectMutationsRejected(bytes, decodeSenderKeyDistribution, {
      count: 300,
      seed: 9,
      versionOffset: -1,
      allowed: [DecodeError],
      mayDecode: true,
    });
    expect(() => encodeSenderKeyDistribution({ ...d, chainKey: new Uint8Array(16) })).toThrow(UsageError);
    expect(() => decodeSenderKeyDistribution(new Uint8Array(300))).toThrow(DecodeError);
  });

  it('stored chains and receiver states: round trip and strictness', () => {
    const chain = advanced(rotateSenderChain(rng), 3);
    const back = decodeSenderChain(encodeSenderChain(chain));
    expect(back).toEqual(chain);
    expectTruncationsRejected(encodeSenderChain(chain), decodeSenderChain);

    const chain0 = rotateSenderChain(rng);
    let bob = receiverOf(chain0);
    const { messages } = sendAll(chain0, ['a', 'b', 'c', 'd']);
    bob = receive(bob, messages[3]!).state;
    expect(bob.skipped.map((k) => k.iteration)).toEqual([0, 1, 2]);
    const stored = encodeSenderReceiverState(bob);
    expect(decodeSenderReceiverState(stored)).toEqual(bob);
    expectTruncationsRejected(stored, decodeSenderReceiverState);
    const unordered = { ...bob, skipped: [...bob.skipped].reverse() };
    expect(() => encodeSenderReceiverState(unordered)).toThrow(UsageError);
    expect(() =>
      encodeSenderReceiverState({ ...bob, skipped: [{ iteration: 9, messageKey: new Uint8Array(32) }] }),
    ).toThrow(UsageError);
  });
});

describe('sender keys: frozen vector', () => {
  const SEED = 'parus sender key frozen vector v1';
  const plaintexts = [utf8('Tit is a kind of bird!'), utf8('山雀')];
  const ad = utf8('frozen ad');

  it('the distribution and the first two messages for a scripted Random', () => {
    const chain0 = rotateSenderChain(scriptedRandom(SEED));
    const first = senderEncrypt(chain0, plaintexts[0]!, ad);
    const second = senderEncrypt(first.chain, plaintexts[1]!, ad);
    const distribution = encodeSenderKeyDistribution(
      senderKeyDistribution(chain0, new Uint8Array(16).fill(0x47)),
    );
    // Generated once with this implementation on 2026-11-22; never regenerate them to make a test pass.
    expect(toHex(distribution)).toBe(
      'a6616e0061760162636b58200f2996c07e6e04540ad7024dc00d5093c56bd1111d9594d963683e8000073fd36373706b5820' +
        'b6526a65c82a7051ec72666d5749076c883ce97e9331b9349cec59fe19ae594065636861696e50f7c42ee8dfa36a6712f0f4' +
        '9504a5b2146567726f75705047474747474747474747474747474747',
    );
    expect(toHex(first.message)).toBe(
      '01f7c42ee8dfa36a6712f0f49504a5b21400000000d5a249a19cd0a869099b60344da6d2c8ce19e371215d396784630d445d' +
        '03c9dcf529997cbc8043b003e9297a1f8c82362c692e1bb186274205a71cfaaecd5052306ec85eeff668d1a2dceed612f190' +
        'd6f37e1ce9243b87baabc9f234efd2a51acd0090762b08',
    );
    expect(toHex(second.message)).toBe(
      '01f7c42ee8dfa36a6712f0f49504a5b21400000001d6ee9734aba6c474af534f02c131a4b0714050feea5a9ee2b6b6c95ae6' +
        '799c6fc7925c318c5177f650f7436567f5afd0bc3b17f933604f881c6d29cd231ec5b1f6adde64c2d52c0cf24003009c65d5' +
        '4c662f1eeb6604',
    );
    let receiver = senderReceiverFromDistribution(decodeSenderKeyDistribution(distribution));
    for (const [i, message] of [first.message, second.message].entries()) {
      const out = senderDecrypt(receiver, message, ad);
      expect(out.plaintext).toEqual(plaintexts[i]);
      receiver = out.state;
    }
  });

  it('equals the documented construction rebuilt from the primitives', () => {
    const chain0 = rotateSenderChain(scriptedRandom(SEED));
    const { message } = senderEncrypt(chain0, plaintexts[0]!, ad);
    // The same Random, drawn in the same order: chain id, chain key, then the signing key's seed.
    const script = scriptedRandom(SEED);
    const chainId = script.bytes(16);
    const chainKey = script.bytes(32);
    const messageKey = hmacSha256(chainKey, Uint8Array.of(0x01));
    const okm = hkdf(messageKey, new Uint8Array(32), utf8('parus-sender-key-message-v1'), 56);
    const header = concatBytes(Uint8Array.of(1), chainId, u32be(0));
    const ciphertext = seal(okm.subarray(0, 32), okm.subarray(32), plaintexts[0]!, concatBytes(ad, header));
    const signature = sign(
      chain0.signingKey.secretKey,
      concatBytes(utf8('parus-sender-key-sig-v1'), header, ciphertext),
    );
    expect(toHex(message)).toBe(toHex(concatBytes(header, ciphertext, signature)));
  });
});
