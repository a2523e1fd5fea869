// The `queue` body (decision 0037): a second queue to reach its sender, strictly decoded.
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCbor, encodeCbor, type CborMap } from '../src/cbor.ts';
import { generateSignKeyPair, initCrypto } from '../src/crypto.ts';
import { DecodeError, UsageError } from '../src/errors.ts';
import { decodeQueueBody, encodeQueueBody } from '../src/message-body.ts';
import { formatRelayAddress, relayFingerprint } from '../src/relay-address.ts';
import { scriptedRandom } from './contact-test-helpers.ts';

const rng = scriptedRandom('queue-body');
let relay: string;

beforeAll(async () => {
  await initCrypto();
  const key = generateSignKeyPair(scriptedRandom('relay-2')).publicKey;
  relay = formatRelayAddress({
    fingerprint: relayFingerprint(key),
    host: 'two.example.org',
    port: 443,
    transport: 'wss',
  });
});

describe('queue body', () => {
  it('round-trips with and without a queue', () => {
    const full = { queue: { relay, sid: rng.bytes(24) }, sk: rng.bytes(32), ask: true };
    expect(decodeQueueBody(decodeCbor(encodeCbor(encodeQueueBody(full))))).toEqual(full);
    const answer = { sk: rng.bytes(32), ask: false };
    expect(decodeQueueBody(encodeQueueBody(answer))).toEqual(answer);
  });

  it('refuses unknown fields, wrong sizes, oversized or non-canonical relays with DecodeError', () => {
    const good = encodeQueueBody({ queue: { relay, sid: rng.bytes(24) }, sk: rng.bytes(32), ask: false });
    const q = good.queue as CborMap;
    const bad: CborMap[] = [
      { ...good, extra: 1 },
      { ...good, queue: { ...q, extra: 1 } },
      { ...good, queue: { ...q, sid: new Uint8Array(23) } },
      { ...good, queue: { ...q, relay: `${relay}/${'x'.repeat(600)}` } },
      { ...good, queue: { ...q, relay: 'x'.repeat(100_000) } },
      { ...good, queue: { ...q, relay: ` ${relay}` } },
      { ...good, queue: { ...q, relay: 'https://example.org' } },
      { ...good, queue: [relay] as unknown as CborMap },
      { ...good, sk: new Uint8Array(33) },
      { ...good, ask: 1 },
      { sk: good.sk!, queue: q },
    ];
    for (const body of bad) expect(() => decodeQueueBody(body)).toThrow(DecodeError);
    expect(() => decodeQueueBody([good])).toThrow(DecodeError);
  });

  it('checks what it encodes with UsageError', () => {
    expect(() => encodeQueueBody({ sk: new Uint8Array(31), ask: false })).toThrow(UsageError);
    expect(() =>
      encodeQueueBody({ queue: { relay: 'nope', sid: rng.bytes(24) }, sk: rng.bytes(32), ask: false }),
    ).toThrow(UsageError);
  });
});
