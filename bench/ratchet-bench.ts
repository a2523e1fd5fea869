/**
 * Double Ratchet throughput: encrypt and decrypt of 256-byte plaintexts between two
 * sessions in this process, with the OS CSPRNG.
 *
 * - one way: Alice sends, Bob receives; only the symmetric-key ratchet turns (KDF_CK per
 *   message), plus the random header nonce.
 * - ping-pong: the direction alternates every message, so every decrypt meets a new
 *   ratchet key and does a DH ratchet step (§3.5 DHRatchetHE: two X25519, two KDF_RK),
 *   and the next encrypt uses the new sending chain.
 */
import { performance } from 'node:perf_hooks';
import {
  equalBytes,
  generateDhKeyPair,
  initRatchetReceiver,
  initRatchetSender,
  ratchetDecrypt,
  ratchetEncrypt,
  systemRandom,
} from '@parus/core';
import type { RatchetState, Random } from '@parus/core';

export interface RatchetResult {
  mode: 'one way' | 'ping-pong';
  random: string;
  messages: number;
  ms: number;
  perSecond: number;
  /** Bytes of one ratchet message for the plaintext size. */
  messageBytes: number;
}

function newSession(rng: Random): { alice: RatchetState; bob: RatchetState } {
  const sharedSecret = rng.bytes(32);
  const sharedHeaderKey = rng.bytes(32);
  const nextHeaderKey = rng.bytes(32);
  const bobKey = generateDhKeyPair(rng);
  return {
    alice: initRatchetSender({
      sharedSecret,
      peerRatchetKey: bobKey.publicKey,
      sharedHeaderKey,
      nextHeaderKey,
      rng,
    }),
    bob: initRatchetReceiver({ sharedSecret, ownRatchetKeyPair: bobKey, sharedHeaderKey, nextHeaderKey }),
  };
}

/**
 * Runs messages for `ms` (after a warm-up of a tenth of it) or `maxMessages`, whichever
 * comes first. Each message is one encrypt and one decrypt, checked against the plaintext.
 */
export function benchRatchet(opts: {
  mode: 'one way' | 'ping-pong';
  /** Default: core's systemRandom. */
  rng?: { name: string; random: Random };
  plaintextBytes: number;
  ms: number;
  maxMessages: number;
}): RatchetResult {
  const { name, random: rng } = opts.rng ?? { name: 'core systemRandom (libsodium)', random: systemRandom };
  const ad = rng.bytes(64);
  const plaintext = rng.bytes(opts.plaintextBytes);
  let { alice, bob } = newSession(rng);
  let messageBytes = 0;
  let count = 0;

  const exchange = (): void => {
    // Ping-pong: Alice on even messages, Bob on odd ones (Bob can answer once he has received).
    const aliceSends = opts.mode === 'one way' || count % 2 === 0;
    const from = aliceSends ? alice : bob;
    const to = aliceSends ? bob : alice;
    const sent = ratchetEncrypt(from, plaintext, ad, rng);
    const got = ratchetDecrypt(to, sent.message, ad, rng);
    if (!equalBytes(got.plaintext, plaintext)) throw new Error('ratchet round trip changed the plaintext');
    messageBytes = sent.message.length;
    if (aliceSends) [alice, bob] = [sent.state, got.state];
    else [bob, alice] = [sent.state, got.state];
    count += 1;
  };

  const warmUntil = performance.now() + opts.ms / 10;
  while (performance.now() < warmUntil && count < opts.maxMessages) exchange();
  const warmCount = count;
  const start = performance.now();
  let now = start;
  while (now - start < opts.ms && count - warmCount < opts.maxMessages) {
    for (let i = 0; i < 8; i++) exchange();
    now = performance.now();
  }
  const messages = count - warmCount;
  const ms = now - start;
  return { mode: opts.mode, random: name, messages, ms, perSecond: (messages / ms) * 1000, messageBytes };
}
