/**
 * Scenario tests of the Double Ratchet with header encryption (double-ratchet.ts): two
 * parties, Alice (initRatchetSender) and Bob (initRatchetReceiver), with a deterministic
 * Random so every run is the same.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  concatBytes,
  decodeCbor,
  decodeRatchetMessage,
  dh,
  decodeRatchetState,
  DecodeError,
  dhKeyPairFromSecret,
  encodeCbor,
  encodeRatchetMessage,
  encodeRatchetState,
  fromUtf8,
  generateDhKeyPair,
  hash,
  hkdf,
  hmacSha256,
  initCrypto,
  initRatchetReceiver,
  initRatchetSender,
  ProtocolError,
  QuotaError,
  RATCHET_ENCRYPTED_HEADER_BYTES,
  RATCHET_MAX_FORWARD_JUMP,
  RATCHET_MAX_MESSAGE_BYTES,
  RATCHET_MAX_PLAINTEXT_BYTES,
  RATCHET_MAX_SKIPPED_KEYS,
  ratchetDecrypt,
  ratchetEncrypt,
  ratchetRefreshDue,
  RATCHET_REFRESH_POLICY,
  ReplayError,
  seal,
  toHex,
  u32be,
  UsageError,
  utf8,
  VerificationError,
  wipe,
  type CborMap,
  type DhKeyPair,
  type Random,
  type RatchetState,
} from '../src/index.ts';

/** A scripted Random: block i of a stream is BLAKE2b-512(seed || u32be(i)). */
function seededRandom(seed: string): Random {
  const prefix = utf8(seed);
  let counter = 0;
  return {
    bytes(length: number): Uint8Array {
      const out = new Uint8Array(length);
      for (let offset = 0; offset < length; offset += 64) {
        const block = hash(concatBytes(prefix, u32be(counter++)), 64);
        out.set(block.subarray(0, Math.min(64, length - offset)), offset);
      }
      return out;
    },
  };
}

const AD = utf8('Alice-identity || Bob-identity');

function skippedCount(state: RatchetState): number {
  return state.skipped.reduce((sum, chain) => sum + chain.keys.length, 0);
}

/** One side of a session; every call checks that the state it was given did not change. */
class Party {
  constructor(
    public state: RatchetState,
    private readonly rng: Random,
  ) {}

  send(text: string, ad: Uint8Array = AD): Uint8Array {
    const input = this.state;
    const before = encodeRatchetState(input);
    const out = ratchetEncrypt(input, utf8(text), ad, this.rng);
    expect(toHex(encodeRatchetState(input))).toBe(toHex(before));
    this.state = out.state;
    return out.message;
  }

  /** Many messages at once, without the per-call purity check (for the limit tests). */
  sendMany(count: number, label: string): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const step = ratchetEncrypt(this.state, utf8(`${label}${i}`), AD, this.rng);
      this.state = step.state;
      out.push(step.message);
    }
    return out;
  }

  receive(message: Uint8Array, ad: Uint8Array = AD): string {
    const input = this.state;
    const before = encodeRatchetState(input);
    const out = ratchetDecrypt(input, message, ad, this.rng);
    // Pure: the state passed in is left as it was.
    expect(toHex(encodeRatchetState(input))).toBe(toHex(before));
    this.state = out.state;
    expect(skippedCount(this.state)).toBeLessThanOrEqual(RATCHET_MAX_SKIPPED_KEYS);
    return fromUtf8(out.plaintext);
  }

  /** A decryption that must fail: returns a thunk for toThrow, which also checks the state is intact. */
  refuse(message: Uint8Array, ad: Uint8Array = AD): () => void {
    return () => {
      const before = encodeRatchetState(this.state);
      try {
        ratchetDecrypt(this.state, message, ad, this.rng);
      } finally {
        expect(toHex(encodeRatchetState(this.state))).toBe(toHex(before));
      }
    };
  }
}

interface Session {
  alice: Party;
  bob: Party;
  bobRatchetKey: DhKeyPair;
}

function newSession(label: string): Session {
  const rng = seededRandom(`${label}/setup`);
  const sharedSecret = rng.bytes(32);
  const sharedHeaderKey = rng.bytes(32);
  const nextHeaderKey = rng.bytes(32);
  const bobRatchetKey = generateDhKeyPair(rng);
  const aliceRng = seededRandom(`${label}/alice`);
  const alice = initRatchetSender({
    sharedSecret,
    peerRatchetKey: bobRatchetKey.publicKey,
    sharedHeaderKey,
    nextHeaderKey,
    rng: aliceRng,
  });
  const bob = initRatchetReceiver({
    sharedSecret,
    ownRatchetKeyPair: {
      publicKey: bobRatchetKey.publicKey.slice(),
      secretKey: bobRatchetKey.secretKey.slice(),
    },
    sharedHeaderKey,
    nextHeaderKey,
  });
  return {
    alice: new Party(alice, aliceRng),
    bob: new Party(bob, seededRandom(`${label}/bob`)),
    bobRatchetKey,
  };
}

describe('Double Ratchet with header encryption', () => {
  beforeAll(async () => {
    await initCrypto();
  });

  describe('initialisation', () => {
    it('Bob cannot send before he has received a message (ProtocolError)', () => {
      const { alice, bob } = newSession('bob-first');
      expect(() => ratchetEncrypt(bob.state, utf8('hi'), AD, seededRandom('x'))).toThrow(ProtocolError);
      expect(bob.receive(alice.send('hello Bob'))).toBe('hello Bob');
      expect(alice.receive(bob.send('hello Alice'))).toBe('hello Alice');
    });

    it('copies its inputs: the caller may wipe them right after (as the client does)', () => {
      const rng = seededRandom('wipe-inputs');
      const sharedSecret = rng.bytes(32);
      const hka = rng.bytes(32);
      const nhkb = rng.bytes(32);
      const bobKey = generateDhKeyPair(rng);
      const aliceInputs = { sharedSecret: sharedSecret.slice(), hka: hka.slice(), nhkb: nhkb.slice() };
      const peerKey = bobKey.publicKey.slice();
      const a = initRatchetSender({
        sharedSecret: aliceInputs.sharedSecret,
        peerRatchetKey: peerKey,
        sharedHeaderKey: aliceInputs.hka,
        nextHeaderKey: aliceInputs.nhkb,
        rng,
      });
      wipe(aliceInputs.sharedSecret, aliceInputs.hka, aliceInputs.nhkb, peerKey);
      const own = { publicKey: bobKey.publicKey.slice(), secretKey: bobKey.secretKey.slice() };
      const bobInputs = { sharedSecret: sharedSecret.slice(), hka: hka.slice(), nhkb: nhkb.slice() };
      const b = initRatchetReceiver({
        sharedSecret: bobInputs.sharedSecret,
        ownRatchetKeyPair: own,
        sharedHeaderKey: bobInputs.hka,
        nextHeaderKey: bobInputs.nhkb,
      });
      wipe(bobInputs.sharedSecret, bobInputs.hka, bobInputs.nhkb, own.secretKey, own.publicKey);
      const alice = new Party(a, seededRandom('wipe-inputs/a'));
      const bob = new Party(b, seededRandom('wipe-inputs/b'));
      expect(bob.receive(alice.send('still works'))).toBe('still works');
      expect(alice.receive(bob.send('and back'))).toBe('and back');
    });

    it('refuses bad inputs: sizes (UsageError), a low-order peer key (VerificationError), a mismatched key pair', () => {
      const rng = seededRandom('bad-init');
      const k = rng.bytes(32);
      const peer = generateDhKeyPair(rng).publicKey;
      const base = { sharedSecret: k, peerRatchetKey: peer, sharedHeaderKey: k, nextHeaderKey: k, rng };
      expect(() => initRatchetSender({ ...base, sharedSecret: k.subarray(1) })).toThrow(UsageError);
      expect(() => initRatchetSender({ ...base, peerRatchetKey: peer.subarray(1) })).toThrow(UsageError);
      expect(() => initRatchetSender({ ...base, nextHeaderKey: new Uint8Array(33) })).toThrow(UsageError);
      expect(() => initRatchetSender({ ...base, peerRatchetKey: new Uint8Array(32) })).toThrow(
        VerificationError,
      );
      const own = generateDhKeyPair(rng);
      const other = generateDhKeyPair(rng);
      const bobBase = { sharedSecret: k, ownRatchetKeyPair: own, sharedHeaderKey: k, nextHeaderKey: k };
      expect(() =>
        initRatchetReceiver({
          ...bobBase,
          ownRatchetKeyPair: { publicKey: other.publicKey, secretKey: own.secretKey },
        }),
      ).toThrow(UsageError);
      expect(() => initRatchetReceiver({ ...bobBase, sharedHeaderKey: k.subarray(2) })).toThrow(UsageError);
    });
  });

  describe('conversations', () => {
    it('ping-pong: 60 rounds with 1 to 3 messages each way, every step a new DH ratchet', () => {
      const { alice, bob } = newSession('ping-pong');
      const seenAliceKeys = new Set<string>();
      for (let round = 0; round < 60; round++) {
        for (let i = 0; i <= round % 3; i++) {
          const text = `A${round}.${i} 你好`;
          expect(bob.receive(alice.send(text))).toBe(text);
        }
        seenAliceKeys.add(toHex(alice.state.dhSelf.publicKey));
        for (let i = 0; i <= (round + 1) % 3; i++) {
          const text = `B${round}.${i}`;
          expect(alice.receive(bob.send(text))).toBe(text);
        }
      }
      // Alice's ratchet key changed every round trip (§3.5).
      expect(seenAliceKeys.size).toBe(60);
      expect(skippedCount(alice.state)).toBe(0);
      expect(skippedCount(bob.state)).toBe(0);
    });

    it('empty and largest plaintexts; larger ones are refused with UsageError', () => {
      const { alice, bob } = newSession('sizes');
      expect(bob.receive(alice.send(''))).toBe('');
      const big = new Uint8Array(RATCHET_MAX_PLAINTEXT_BYTES).fill(0x61);
      const out = ratchetEncrypt(alice.state, big, AD, seededRandom('big'));
      expect(out.message.length).toBe(RATCHET_MAX_MESSAGE_BYTES);
      expect(ratchetDecrypt(bob.state, out.message, AD, seededRandom('big2')).plaintext).toEqual(big);
      expect(() =>
        ratchetEncrypt(alice.state, new Uint8Array(RATCHET_MAX_PLAINTEXT_BYTES + 1), AD, seededRandom('x')),
      ).toThrow(UsageError);
    });

    it('out-of-order delivery within a chain uses the skipped keys', () => {
      const { alice, bob } = newSession('ooo-chain');
      const messages = [0, 1, 2, 3, 4].map((i) => alice.send(`m${i}`));
      expect(bob.receive(messages[3]!)).toBe('m3');
      expect(skippedCount(bob.state)).toBe(3);
      expect(bob.receive(messages[0]!)).toBe('m0');
      expect(bob.receive(messages[4]!)).toBe('m4');
      expect(bob.receive(messages[2]!)).toBe('m2');
      expect(bob.receive(messages[1]!)).toBe('m1');
      expect(skippedCount(bob.state)).toBe(0);
      expect(bob.state.skipped.length).toBe(0);
    });

    it('out-of-order delivery across DH ratchet steps: messages of a previous chain arrive late', () => {
      const { alice, bob } = newSession('ooo-dh');
      const a0 = alice.send('a0');
      const a1 = alice.send('a1');
      const a2 = alice.send('a2');
      expect(bob.receive(a1)).toBe('a1'); // a0 skipped in chain 1
      const b0 = bob.send('b0');
      expect(alice.receive(b0)).toBe('b0'); // Alice steps her ratchet
      const a3 = alice.send('a3'); // chain 2, header pn = 3
      const a4 = alice.send('a4');
      expect(bob.receive(a4)).toBe('a4'); // Bob steps: a2 skipped at the end of chain 1, a3 in chain 2
      expect(skippedCount(bob.state)).toBe(3);
      expect(bob.state.skipped.length).toBe(2);
      expect(bob.receive(a0)).toBe('a0');
      expect(bob.receive(a3)).toBe('a3');
      const b1 = bob.send('b1');
      expect(alice.receive(b1)).toBe('b1');
      const a5 = alice.send('a5'); // chain 3
      expect(bob.receive(a5)).toBe('a5');
      expect(bob.receive(a2)).toBe('a2'); // two DH steps late
      expect(skippedCount(bob.state)).toBe(0);
    });

    it('keeps skipped keys across many chains and uses them much later', () => {
      const { alice, bob } = newSession('many-chains');
      const late: Array<[Uint8Array, string]> = [];
      for (let round = 0; round < 10; round++) {
        const first = alice.send(`r${round} first`);
        late.push([first, `r${round} first`]);
        expect(bob.receive(alice.send(`r${round} second`))).toBe(`r${round} second`);
        expect(alice.receive(bob.send(`reply ${round}`))).toBe(`reply ${round}`);
      }
      expect(skippedCount(bob.state)).toBe(10);
      for (const [message, text] of late.reverse()) expect(bob.receive(message)).toBe(text);
      expect(skippedCount(bob.state)).toBe(0);
    });
  });

  describe('limits', () => {
    it(`a jump of more than ${RATCHET_MAX_FORWARD_JUMP} keys is refused with QuotaError, the state unchanged`, () => {
      const { alice, bob } = newSession('jump');
      const messages = alice.sendMany(RATCHET_MAX_FORWARD_JUMP + 2, 'n');
      const far = messages[RATCHET_MAX_FORWARD_JUMP + 1]!; // n = 25,001: would skip 25,001 keys
      expect(bob.refuse(far)).toThrow(QuotaError);
      // The next legitimate message still decrypts.
      expect(bob.receive(messages[0]!)).toBe('n0');
      // Now n = 25,001 skips exactly 25,000 keys (1..25,000): allowed; only the newest 2,000 are kept.
      expect(bob.receive(far)).toBe(`n${RATCHET_MAX_FORWARD_JUMP + 1}`);
      expect(skippedCount(bob.state)).toBe(RATCHET_MAX_SKIPPED_KEYS);
      const oldestKept = RATCHET_MAX_FORWARD_JUMP + 1 - RATCHET_MAX_SKIPPED_KEYS;
      expect(bob.state.skipped[0]!.keys[0]!.n).toBe(oldestKept);
      expect(bob.receive(messages[oldestKept]!)).toBe(`n${oldestKept}`);
      expect(bob.receive(messages[RATCHET_MAX_FORWARD_JUMP]!)).toBe(`n${RATCHET_MAX_FORWARD_JUMP}`);
      // A message whose key was dropped can no longer be read: it is below Nr, with no key.
      expect(bob.refuse(messages[oldestKept - 1]!)).toThrow(ReplayError);
      expect(bob.refuse(messages[1]!)).toThrow(ReplayError);
    });

    it(`a jump of more than ${RATCHET_MAX_FORWARD_JUMP} keys at the end of the previous chain (PN) is refused too`, () => {
      const { alice, bob } = newSession('jump-pn');
      expect(bob.receive(alice.send('first'))).toBe('first');
      // Bob writes 25,002 messages in his first chain; Alice reads only the first.
      const chain = bob.sendMany(RATCHET_MAX_FORWARD_JUMP + 2, 'b');
      expect(alice.receive(chain[0]!)).toBe('b0');
      expect(bob.receive(alice.send('second'))).toBe('second');
      const next = bob.send('new chain'); // header pn = 25,002; Alice has Nr = 1 in that chain
      expect(alice.refuse(next)).toThrow(QuotaError);
      // One more message of the old chain read, and the rest of it fits in one jump.
      expect(alice.receive(chain[1]!)).toBe('b1');
      expect(alice.receive(next)).toBe('new chain');
      expect(skippedCount(alice.state)).toBe(RATCHET_MAX_SKIPPED_KEYS);
      expect(alice.receive(chain[RATCHET_MAX_FORWARD_JUMP + 1]!)).toBe(`b${RATCHET_MAX_FORWARD_JUMP + 1}`);
    });

    it('the skipped-key store never holds more than 2,000 keys, dropping the oldest first', () => {
      const { alice, bob } = newSession('store-cap');
      const firstOfChain: Uint8Array[] = [];
      for (let round = 0; round < 4; round++) {
        const batch = alice.sendMany(900, `r${round} m`);
        firstOfChain.push(batch[0]!);
        expect(bob.receive(batch[899]!)).toBe(`r${round} m899`);
        expect(skippedCount(bob.state)).toBe(Math.min(899 * (round + 1), RATCHET_MAX_SKIPPED_KEYS));
        expect(alice.receive(bob.send(`ack ${round}`))).toBe(`ack ${round}`);
      }
      // 4 x 899 skipped: the first chain went entirely, the second in part; the last two are whole.
      expect(bob.state.skipped.map((c) => c.keys.length)).toEqual([2000 - 2 * 899, 899, 899]);
      expect(bob.receive(firstOfChain[3]!)).toBe('r3 m0');
      expect(bob.receive(firstOfChain[2]!)).toBe('r2 m0');
      // The first chain's keys and header key are gone: its messages no longer decrypt.
      expect(bob.refuse(firstOfChain[0]!)).toThrow(VerificationError);
      // The second chain lost its oldest keys: its header key is still held, the key is not.
      expect(bob.refuse(firstOfChain[1]!)).toThrow(ReplayError);
    });
  });

  describe('replays and tampering', () => {
    it('a message delivered twice is refused with ReplayError', () => {
      const { alice, bob } = newSession('replay');
      const m0 = alice.send('once');
      expect(bob.receive(m0)).toBe('once');
      expect(bob.refuse(m0)).toThrow(ReplayError);
      const m1 = alice.send('twice?');
      const m2 = alice.send('later');
      expect(bob.receive(m2)).toBe('later');
      expect(bob.receive(m1)).toBe('twice?'); // from the skipped store
      expect(bob.refuse(m1)).toThrow(ReplayError);
      expect(bob.refuse(m2)).toThrow(ReplayError);
    });

    it('a replayed message of an older chain whose other keys are still held is refused with ReplayError', () => {
      const { alice, bob } = newSession('replay-old-chain');
      const a0 = alice.send('a0');
      const a1 = alice.send('a1');
      const a2 = alice.send('a2');
      expect(bob.receive(a2)).toBe('a2');
      expect(alice.receive(bob.send('b0'))).toBe('b0');
      expect(bob.receive(alice.send('a3'))).toBe('a3'); // Bob is on a new chain now
      expect(bob.receive(a0)).toBe('a0');
      expect(bob.refuse(a0)).toThrow(ReplayError); // chain 1 still holds a1's key
      expect(bob.receive(a1)).toBe('a1');
      // With no key left, chain 1's header key is gone too: the replay no longer decrypts at all.
      expect(bob.refuse(a1)).toThrow(VerificationError);
    });

    it('a tampered header, a tampered body or another AD is refused with VerificationError', () => {
      const { alice, bob } = newSession('tamper');
      const message = alice.send('authentic');
      for (const index of [1, 24, 40, RATCHET_ENCRYPTED_HEADER_BYTES]) {
        // 1: header nonce, 24/40: header ciphertext, 80: header tag
        const bad = message.slice();
        bad[index]! ^= 0x01;
        expect(bob.refuse(bad)).toThrow(VerificationError);
      }
      for (const index of [RATCHET_ENCRYPTED_HEADER_BYTES + 1, message.length - 17, message.length - 1]) {
        const bad = message.slice();
        bad[index]! ^= 0x80;
        expect(bob.refuse(bad)).toThrow(VerificationError);
      }
      expect(bob.refuse(message, utf8('another conversation'))).toThrow(VerificationError);
      expect(bob.refuse(message, new Uint8Array(0))).toThrow(VerificationError);
      // A body moved under another header does not open either.
      const other = alice.send('second');
      const spliced = concatBytes(
        message.subarray(0, 1 + RATCHET_ENCRYPTED_HEADER_BYTES),
        other.subarray(1 + RATCHET_ENCRYPTED_HEADER_BYTES),
      );
      expect(bob.refuse(spliced)).toThrow(VerificationError);
      // None of this changed Bob's state: the genuine messages still decrypt.
      expect(bob.receive(message)).toBe('authentic');
      expect(bob.receive(other)).toBe('second');
    });

    it('a tampered message after a skip leaves the skipped keys in place', () => {
      const { alice, bob } = newSession('tamper-skip');
      const m0 = alice.send('m0');
      const m1 = alice.send('m1');
      const bad = m1.slice();
      bad[bad.length - 1]! ^= 1;
      expect(bob.refuse(bad)).toThrow(VerificationError);
      expect(skippedCount(bob.state)).toBe(0);
      expect(bob.receive(m1)).toBe('m1');
      const badOld = m0.slice();
      badOld[bad.length - 2]! ^= 1;
      expect(bob.refuse(badOld)).toThrow(VerificationError);
      expect(bob.receive(m0)).toBe('m0');
    });

    it('malformed wire messages are refused with DecodeError', () => {
      const { alice, bob } = newSession('malformed');
      const message = alice.send('x');
      const wrongVersion = message.slice();
      wrongVersion[0] = 2;
      expect(bob.refuse(wrongVersion)).toThrow(DecodeError);
      for (let n = 0; n < 1 + RATCHET_ENCRYPTED_HEADER_BYTES + 16; n++) {
        expect(bob.refuse(message.subarray(0, n))).toThrow(DecodeError);
      }
      expect(bob.refuse(new Uint8Array(RATCHET_MAX_MESSAGE_BYTES + 1).fill(1))).toThrow(DecodeError);
      expect(() => ratchetDecrypt(bob.state, 'x' as unknown as Uint8Array, AD, seededRandom('x'))).toThrow(
        DecodeError,
      );
      expect(() =>
        ratchetDecrypt(bob.state, message, 'ad' as unknown as Uint8Array, seededRandom('x')),
      ).toThrow(UsageError);
    });

    it('the header cannot be read without the header key: no ratchet key or counter in the clear', () => {
      const { alice, bob } = newSession('opaque');
      const messages = [0, 1, 2].map((i) => alice.send(`m${i}`));
      const key = toHex(alice.state.dhSelf.publicKey);
      for (const m of messages) {
        expect(toHex(m)).not.toContain(key);
        expect(toHex(m)).not.toContain(toHex(alice.state.dhSelf.publicKey.subarray(0, 8)));
      }
      // Headers of one chain look unrelated (random nonces), and bodies carry only ciphertext.
      const headers = messages.map((m) => toHex(decodeRatchetMessage(m).header));
      expect(new Set(headers).size).toBe(3);
      for (const m of messages) expect(bob.receive(m)).toMatch(/^m\d$/);
    });
  });

  describe('state', () => {
    it('returned states share no byte array with their input: the old one may be wiped', () => {
      const { alice, bob } = newSession('no-sharing');
      const wipeState = (s: RatchetState): void => {
        wipe(s.dhSelf.secretKey, s.dhSelf.publicKey, s.rootKey, s.nextSendHeaderKey, s.nextRecvHeaderKey);
        for (const b of [s.dhRemote, s.sendChainKey, s.recvChainKey, s.sendHeaderKey, s.recvHeaderKey]) {
          if (b) wipe(b);
        }
        for (const c of s.skipped) {
          wipe(c.headerKey);
          for (const k of c.keys) wipe(k.messageKey);
        }
      };
      for (let i = 0; i < 3; i++) {
        const m = [0, 1, 2].map((j) => alice.send(`a${i}.${j}`));
        const old = bob.state;
        expect(bob.receive(m[2]!)).toBe(`a${i}.2`);
        wipeState(old);
        expect(bob.receive(m[0]!)).toBe(`a${i}.0`);
        const oldAlice = alice.state;
        const reply = bob.send(`b${i}`);
        expect(alice.receive(reply)).toBe(`b${i}`);
        wipeState(oldAlice);
        expect(bob.receive(m[1]!)).toBe(`a${i}.1`);
      }
    });

    it('survives encodeRatchetState / decodeRatchetState mid-conversation, skipped keys included', () => {
      const { alice, bob } = newSession('persist');
      const pending: Array<[Uint8Array, string]> = [];
      for (let round = 0; round < 6; round++) {
        const early = alice.send(`early ${round}`);
        pending.push([early, `early ${round}`]);
        expect(bob.receive(alice.send(`now ${round}`))).toBe(`now ${round}`);
        // Both sides go to storage and come back between every step.
        alice.state = decodeRatchetState(encodeRatchetState(alice.state));
        const stored = encodeRatchetState(bob.state);
        const restored = decodeRatchetState(stored);
        expect(restored).toEqual(bob.state);
        expect(toHex(encodeRatchetState(restored))).toBe(toHex(stored));
        bob.state = restored;
        expect(alice.receive(bob.send(`reply ${round}`))).toBe(`reply ${round}`);
      }
      expect(skippedCount(bob.state)).toBe(6);
      bob.state = decodeRatchetState(encodeRatchetState(bob.state));
      for (const [message, text] of pending) expect(bob.receive(message)).toBe(text);
      // A receiver that has not received anything yet round-trips too.
      const fresh = newSession('persist-fresh');
      fresh.bob.state = decodeRatchetState(encodeRatchetState(fresh.bob.state));
      expect(fresh.bob.receive(fresh.alice.send('hi'))).toBe('hi');
    });

    it('decodeRatchetState refuses every truncation and every single-byte change with DecodeError', () => {
      const { alice, bob } = newSession('state-mutation');
      alice.send('skipped');
      expect(bob.receive(alice.send('kept'))).toBe('kept');
      const bytes = encodeRatchetState(bob.state);
      for (let n = 0; n < bytes.length; n++) {
        expect(() => decodeRatchetState(bytes.subarray(0, n))).toThrow(DecodeError);
      }
      for (let i = 0; i < bytes.length; i++) {
        for (const flip of [0x01, 0x80]) {
          const bad = bytes.slice();
          bad[i]! ^= flip;
          expect(() => decodeRatchetState(bad), `byte ${i} ^ ${flip}`).toThrow(DecodeError);
        }
      }
      expect(() => decodeRatchetState(concatBytes(bytes, new Uint8Array([0])))).toThrow(DecodeError);
      expect(() => decodeRatchetState(new Uint8Array(0))).toThrow(DecodeError);
      expect(() => decodeRatchetState('state' as unknown as Uint8Array)).toThrow(DecodeError);
    });

    it('decodeRatchetState refuses well-formed records that break the state invariants', () => {
      const { alice, bob } = newSession('state-invariants');
      alice.send('skipped');
      expect(bob.receive(alice.send('kept'))).toBe('kept');
      const outer = decodeCbor(encodeRatchetState(bob.state)) as CborMap;
      const inner = decodeCbor(outer.state as Uint8Array) as CborMap;
      const reseal = (fields: CborMap): Uint8Array => {
        const body = encodeCbor(fields);
        return encodeCbor({ v: 1, state: body, check: hash(body, 16) });
      };
      expect(decodeRatchetState(reseal(inner))).toEqual(bob.state);
      const other = dhKeyPairFromSecret(seededRandom('other').bytes(32));
      const cases: Array<[string, CborMap]> = [
        ['unknown field', { ...inner, extra: 1 }],
        ['missing field', { ...inner, rk: undefined }],
        ['short key', { ...inner, rk: new Uint8Array(31) }],
        ['public key of another secret', { ...inner, dhp: other.publicKey }],
        ['chain key without header key', { ...inner, hkr: null }],
        ['counter beyond 32 bits', { ...inner, ns: 2 ** 32 }],
        ['negative counter', { ...inner, nr: -1 }],
        ['chains without a peer key', { ...inner, dhr: null }],
        ['empty skipped chain', { ...inner, mks: [[new Uint8Array(32), []]] }],
        [
          'skipped keys out of order',
          {
            ...inner,
            mks: [
              [
                new Uint8Array(32),
                [
                  [2, new Uint8Array(32)],
                  [1, new Uint8Array(32)],
                ],
              ],
            ],
          },
        ],
        [
          'skipped chain twice',
          {
            ...inner,
            mks: [
              [new Uint8Array(32), [[1, new Uint8Array(32)]]],
              [new Uint8Array(32), [[2, new Uint8Array(32)]]],
            ],
          },
        ],
        [
          'too many skipped keys',
          {
            ...inner,
            mks: [0, 1].map((c) => [
              new Uint8Array(32).fill(c),
              Array.from({ length: 1001 }, (_, n) => [n, new Uint8Array(32)]),
            ]),
          },
        ],
      ];
      for (const [name, fields] of cases) {
        expect(() => decodeRatchetState(reseal(fields)), name).toThrow(DecodeError);
      }
      expect(() =>
        decodeRatchetState(encodeCbor({ v: 2, state: outer.state!, check: outer.check! })),
      ).toThrow(DecodeError);
    });

    it('encodeRatchetState and the steps refuse a malformed state with UsageError', () => {
      const { alice } = newSession('bad-state');
      const broken = { ...alice.state, rootKey: new Uint8Array(3) };
      expect(() => encodeRatchetState(broken)).toThrow(UsageError);
      expect(() => ratchetEncrypt(broken, utf8('x'), AD, seededRandom('x'))).toThrow(UsageError);
    });
  });

  describe('wire format', () => {
    it('encodeRatchetMessage / decodeRatchetMessage round trip and size checks', () => {
      const header = new Uint8Array(RATCHET_ENCRYPTED_HEADER_BYTES).fill(7);
      const body = new Uint8Array(20).fill(9);
      const bytes = encodeRatchetMessage({ header, body });
      expect(bytes[0]).toBe(1);
      expect(decodeRatchetMessage(bytes)).toEqual({ header, body });
      expect(() => encodeRatchetMessage({ header: header.subarray(1), body })).toThrow(UsageError);
      expect(() => encodeRatchetMessage({ header, body: body.subarray(0, 15) })).toThrow(UsageError);
    });
  });

  describe('frozen vector', () => {
    const inputs = {
      seed: 'parus double ratchet frozen vector v1',
      sharedSecret: new Uint8Array(32).fill(0x01),
      sharedHeaderKey: new Uint8Array(32).fill(0x02),
      nextHeaderKey: new Uint8Array(32).fill(0x03),
      bobSecret: new Uint8Array(32).fill(0x04),
      plaintext: utf8('Tit is a kind of bird!'),
      ad: utf8('frozen ad'),
    };

    it('the first message for fixed inputs and a scripted Random', () => {
      const rng = seededRandom(inputs.seed);
      const bob = dhKeyPairFromSecret(inputs.bobSecret.slice());
      const alice = initRatchetSender({
        sharedSecret: inputs.sharedSecret,
        peerRatchetKey: bob.publicKey,
        sharedHeaderKey: inputs.sharedHeaderKey,
        nextHeaderKey: inputs.nextHeaderKey,
        rng,
      });
      const { message } = ratchetEncrypt(alice, inputs.plaintext, inputs.ad, rng);
      // Generated once with this implementation on 2026-11-22; never regenerate it to make a test pass.
      expect(toHex(message)).toBe(
        '01a9e116d0f18ef445f488f9c6c6f19cbe1e30675fe1101eef394ac35d3d2b9940f0d7753a33ae9e7d7e8d5beceac405d462c7' +
          '192321ca02964cf1db267de0f732abbf2d8a464b58c029c8c3359de4e929601a13e9d1a6573b375919068eb27998192cbf7233' +
          'fea200478b505388c5e887e1752ebf409c',
      );
      const receiver = initRatchetReceiver({
        sharedSecret: inputs.sharedSecret,
        ownRatchetKeyPair: bob,
        sharedHeaderKey: inputs.sharedHeaderKey,
        nextHeaderKey: inputs.nextHeaderKey,
      });
      expect(ratchetDecrypt(receiver, message, inputs.ad, rng).plaintext).toEqual(inputs.plaintext);
    });

    it('equals the documented construction rebuilt from the primitives (KDF_RK, KDF_CK, HENCRYPT, ENCRYPT)', () => {
      const rng = seededRandom(inputs.seed);
      const bob = dhKeyPairFromSecret(inputs.bobSecret.slice());
      const { message } = ratchetEncrypt(
        initRatchetSender({
          sharedSecret: inputs.sharedSecret,
          peerRatchetKey: bob.publicKey,
          sharedHeaderKey: inputs.sharedHeaderKey,
          nextHeaderKey: inputs.nextHeaderKey,
          rng,
        }),
        inputs.plaintext,
        inputs.ad,
        rng,
      );
      // The same Random, drawn in the same order: Alice's ratchet secret, then the header nonce.
      const script = seededRandom(inputs.seed);
      const aliceKey = dhKeyPairFromSecret(script.bytes(32));
      const headerNonce = script.bytes(24);
      // RK, CKs, NHKs = KDF_RK_HE(SK, DH(DHs, DHr)): HKDF(ikm = dh_out, salt = rk, info), 96 bytes.
      const okm = hkdf(
        dh(aliceKey.secretKey, bob.publicKey),
        inputs.sharedSecret,
        utf8('parus-dr-root-v1'),
        96,
      );
      const sendChainKey = okm.subarray(32, 64);
      // mk = HMAC(CKs, 0x01)
      const messageKey = hmacSha256(sendChainKey, Uint8Array.of(0x01));
      // HEADER(DHs, PN = 0, Ns = 0), HENCRYPT(HKs = shared_hka, header) with the version byte as AD.
      const header = concatBytes(aliceKey.publicKey, u32be(0), u32be(0));
      const encryptedHeader = concatBytes(
        headerNonce,
        seal(inputs.sharedHeaderKey, headerNonce, header, Uint8Array.of(1)),
      );
      // ENCRYPT(mk, plaintext, AD || enc_header): HKDF(mk, 32 zero bytes, info) -> key || nonce.
      const cipher = hkdf(messageKey, new Uint8Array(32), utf8('parus-dr-message-v1'), 56);
      const body = seal(
        cipher.subarray(0, 32),
        cipher.subarray(32),
        inputs.plaintext,
        concatBytes(inputs.ad, encryptedHeader),
      );
      expect(toHex(message)).toBe(toHex(concatBytes(Uint8Array.of(1), encryptedHeader, body)));
    });
  });
});

// Decision 0026: an idle or one-way session is refreshed by asking the peer to reply, which
// makes both sides take a DH ratchet step (§3.5); the clock is the caller's, scripted here.
describe('refreshing an idle or one-way session', () => {
  const DAY = 24 * 60 * 60 * 1000;
  const t0 = Date.UTC(2026, 11, 1);

  beforeAll(async () => {
    await initCrypto();
  });

  /** Whether `haystack` holds `needle` anywhere. */
  const holds = (haystack: Uint8Array, needle: Uint8Array): boolean =>
    Buffer.from(haystack).includes(Buffer.from(needle));

  it('after 7 days idle the next exchange goes through a new DH ratchet, and the old chain keys are gone', () => {
    const { alice, bob } = newSession('refresh-idle');
    bob.receive(alice.send('hello'));
    const reply = ratchetDecrypt(alice.state, bob.send('hi'), AD, seededRandom('refresh-idle/x'));
    expect(reply.stepped).toBe(true);
    alice.state = reply.state;
    const lastStepAt = t0;
    expect(ratchetRefreshDue(alice.state, { now: t0 + 7 * DAY - 1, lastStepAt })).toBe(false);
    expect(ratchetRefreshDue(alice.state, { now: t0 + 7 * DAY, lastStepAt })).toBe(true);

    const before = {
      alice: { ...alice.state, dhSelf: { ...alice.state.dhSelf } },
      bob: { ...bob.state, dhSelf: { ...bob.state.dhSelf } },
    };
    const old = [
      before.alice.rootKey,
      before.alice.sendChainKey!,
      before.alice.recvChainKey!,
      before.bob.rootKey,
      before.bob.sendChainKey!,
      before.bob.recvChainKey!,
    ].map((k) => k.slice());
    // Alice's request; Bob's answer (docs/decisions/0026: an empty `rekey`, padded as any message).
    const request = ratchetDecrypt(bob.state, alice.send('rekey?'), AD, seededRandom('refresh-idle/b'));
    expect(request.stepped).toBe(true);
    bob.state = request.state;
    const answer = ratchetDecrypt(alice.state, bob.send('rekey'), AD, seededRandom('refresh-idle/a'));
    expect(answer.stepped).toBe(true);
    alice.state = answer.state;

    expect(toHex(alice.state.dhSelf.publicKey)).not.toBe(toHex(before.alice.dhSelf.publicKey));
    expect(toHex(bob.state.dhSelf.publicKey)).not.toBe(toHex(before.bob.dhSelf.publicKey));
    expect(toHex(alice.state.rootKey)).not.toBe(toHex(before.alice.rootKey));
    expect(toHex(bob.state.rootKey)).not.toBe(toHex(before.bob.rootKey));
    // No key of the chains before the refresh is left in either stored state.
    for (const state of [alice.state, bob.state]) {
      const stored = encodeRatchetState(state);
      for (const key of old) expect(holds(stored, key)).toBe(false);
      expect(state.skipped).toEqual([]);
    }
    expect(ratchetRefreshDue(alice.state, { now: t0 + 7 * DAY, lastStepAt: t0 + 7 * DAY })).toBe(false);
    // And the session goes on both ways.
    expect(bob.receive(alice.send('after'))).toBe('after');
    expect(alice.receive(bob.send('both ways'))).toBe('both ways');
  });

  it('N messages one way make it due, whatever the clock; a reply from the peer ends that', () => {
    const { alice, bob } = newSession('refresh-oneway');
    const n = RATCHET_REFRESH_POLICY.maxOneWay;
    const sent = alice.sendMany(n - 1, 'one way ');
    expect(ratchetRefreshDue(alice.state, { now: t0, lastStepAt: t0 })).toBe(false);
    sent.push(...alice.sendMany(1, 'last '));
    expect(ratchetRefreshDue(alice.state, { now: t0, lastStepAt: t0 })).toBe(true);
    for (const m of sent) bob.receive(m);
    const reply = ratchetDecrypt(alice.state, bob.send('here'), AD, seededRandom('refresh-oneway/a'));
    expect(reply.stepped).toBe(true);
    alice.state = reply.state;
    expect(ratchetRefreshDue(alice.state, { now: t0, lastStepAt: t0 })).toBe(false);
  });

  it('a peer that ignores the request still gets every message, and nothing stalls', () => {
    const { alice, bob } = newSession('refresh-ignored');
    bob.receive(alice.send('hello'));
    alice.receive(bob.send('hi'));
    const late = t0 + 30 * DAY;
    expect(ratchetRefreshDue(alice.state, { now: late, lastStepAt: t0 })).toBe(true);
    const messages = alice.sendMany(2 * RATCHET_REFRESH_POLICY.maxOneWay, 'unanswered ');
    expect(messages.map((m) => bob.receive(m))).toEqual(
      Array.from({ length: messages.length }, (_, i) => `unanswered ${i}`),
    );
    expect(ratchetRefreshDue(alice.state, { now: late, lastStepAt: t0 })).toBe(true);
  });

  it('is never due for a side that cannot send yet, a message on a known chain is no step, and bad times are refused', () => {
    const { alice, bob } = newSession('refresh-edges');
    expect(ratchetRefreshDue(bob.state, { now: t0 + 365 * DAY, lastStepAt: t0 })).toBe(false);
    const first = ratchetDecrypt(bob.state, alice.send('one'), AD, seededRandom('refresh-edges/b'));
    expect(first.stepped).toBe(true);
    bob.state = first.state;
    const second = ratchetDecrypt(bob.state, alice.send('two'), AD, seededRandom('refresh-edges/c'));
    expect(second.stepped).toBe(false);
    expect(() => ratchetRefreshDue(alice.state, { now: Number.NaN, lastStepAt: t0 })).toThrow(UsageError);
  });
});
