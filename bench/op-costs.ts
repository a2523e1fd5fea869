/**
 * What each step of the relay's per-message work costs alone on this machine, timed in
 * this process: the same core functions and the same SQLite store the relay runs, called
 * in a loop. Multiplied by how often the relay calls each per delivered message (read off
 * commands.ts, connection.ts and subscriptions.ts), they give a CPU budget per message to
 * set beside the profile. Comparisons that the relay does not use are timed as well:
 * Ed25519 verification (what protocol version 1 did for every send and ack), Node's own
 * Ed25519, and libsodium's random bytes.
 */
import { createPublicKey, randomFillSync, verify as nodeVerify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  authenticateCommand,
  checkCommandAuth,
  decodeClientFrame,
  deriveCommandAuthKey,
  encodeFrame,
  generateDhKeyPair,
  generateSignKeyPair,
  seal,
  sealDelivery,
  sign,
  systemRandom,
  toHex,
  verify,
} from '@parus/core';
import type { SendFrame } from '@parus/core';
import { SqliteQueueStore } from '@parus/relay';

export interface OpCost {
  name: string;
  /** Microseconds per call. */
  us: number;
  /** Calls per delivered message in the relay (0: not on the relay's path; shown for comparison). */
  perMessage: number;
  note?: string;
}

/** Calls `f` for about `ms` after a short warm-up; returns microseconds per call. */
function time(f: () => void, ms = 150): number {
  for (let i = 0; i < 50; i++) f();
  let n = 0;
  const start = performance.now();
  let now = start;
  // Bounded by time and by count.
  while (now - start < ms && n < 5_000_000) {
    for (let i = 0; i < 16; i++) f();
    n += 16;
    now = performance.now();
  }
  return ((now - start) * 1000) / n;
}

async function timeAsync(f: () => Promise<void>, ms = 300): Promise<number> {
  for (let i = 0; i < 5; i++) await f();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms && n < 100_000) {
    await f();
    n += 1;
    now = performance.now();
  }
  return ((now - start) * 1000) / n;
}

export async function measureOpCosts(bodyBytes: number): Promise<OpCost[]> {
  const rng = systemRandom;
  const session = rng.bytes(32);
  const sender = generateDhKeyPair(rng);
  const relayDh = generateDhKeyPair(rng);
  const authKey = deriveCommandAuthKey(sender.secretKey, relayDh.publicKey, session, sender.publicKey);
  const body = rng.bytes(bodyBytes);
  const send: SendFrame = { t: 'send', id: 50_000, sid: rng.bytes(24), body };
  // Protocol version 1 signed the same frame with Ed25519: timed for comparison.
  const signer = generateSignKeyPair(rng);
  const signingBytes = encodeFrame(send);
  const signature = sign(signer.secretKey, signingBytes);
  const auth = authenticateCommand(authKey, session, send);
  send.auth = auth;
  const sendBytes = encodeFrame(send);
  const key = rng.bytes(32);
  const mid = rng.bytes(16);
  const nonce = rng.bytes(24);
  const sealed = sealDelivery(rng, key, mid, { ts: Date.now(), body });
  const nodeKey = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(signer.publicKey).toString('base64url') },
    format: 'jwk',
  });

  const costs: OpCost[] = [
    {
      name: 'command authenticator check (core `checkCommandAuth`: CBOR + HMAC-SHA-256)',
      us: time(() => checkCommandAuth(authKey, session, send, auth)),
      perMessage: 2,
      note: 'send and ack',
    },
    {
      name: 'command key K (core `deriveCommandAuthKey`: X25519 + HKDF)',
      us: time(() => deriveCommandAuthKey(relayDh.secretKey, sender.publicKey, session, sender.publicKey)),
      perMessage: 0,
      note: 'once per connection and queue key, then cached',
    },
    {
      name: 'Ed25519 verify (core `verify`, libsodium)',
      us: time(() => verify(signer.publicKey, signingBytes, signature)),
      perMessage: 0,
      note: 'protocol version 1 did two per message; for comparison',
    },
    {
      name: 'Ed25519 sign (core `sign`, libsodium)',
      us: time(() => sign(signer.secretKey, signingBytes)),
      perMessage: 0,
      note: 'shown for scale',
    },
    {
      name: 'Ed25519 verify (node:crypto, for comparison)',
      us: time(() => nodeVerify(null, signingBytes, nodeKey, signature)),
      perMessage: 0,
    },
    {
      name: '16 random bytes (node:crypto `randomFillSync`, as the relay draws them)',
      us: time(() => randomFillSync(new Uint8Array(16))),
      perMessage: 2,
      note: 'message id, and the nonce inside sealDelivery',
    },
    {
      name: '16 random bytes (core `systemRandom`, libsodium, for comparison)',
      us: time(() => rng.bytes(16)),
      perMessage: 0,
      note: 'what the relay used before node-random.ts',
    },
    {
      name: `XChaCha20-Poly1305 seal of ${bodyBytes + 14} B (core \`seal\`, fixed nonce)`,
      us: time(() => seal(key, nonce, body, mid)),
      perMessage: 1,
      note: 'sealDelivery minus its nonce',
    },
    {
      name: 'CBOR `decodeClientFrame(send)`',
      us: time(() => decodeClientFrame(sendBytes)),
      perMessage: 2,
      note: 'send and ack',
    },
    {
      name: 'CBOR `encodeFrame(msg)`',
      us: time(() => encodeFrame({ t: 'msg', rid: send.sid, mid, body: sealed })),
      perMessage: 3,
      note: 'msg and two ok (smaller)',
    },
    {
      name: '`toHex` of a queue id',
      us: time(() => toHex(send.sid)),
      perMessage: 4,
      note: 'subscription and window maps',
    },
  ];

  const dataDir = await mkdtemp(join(tmpdir(), 'parus-bench-store-'));
  try {
    const store = new SqliteQueueStore({
      path: join(dataDir, 'relay.sqlite'),
      maxQueueMessages: 10_000,
      maxQueueBytes: 64 * 1024 * 1024,
    });
    const rid = rng.bytes(24);
    const sid = rng.bytes(24);
    await store.createQueue({
      rid,
      sid,
      rk: sender.publicKey,
      sk: sender.publicKey,
      queueKey: key,
      created: 1,
    });
    // Group commit as under load: a batch of appends in one transaction, then their deletes.
    const batch = 32;
    let ts = 1_000;
    const pairUs =
      (await timeAsync(async () => {
        const mids = Array.from({ length: batch }, () => randomFillSync(new Uint8Array(16)));
        await Promise.all(
          mids.map((m) =>
            store.append(
              { rid, mid: m, ts: ++ts, body: sealed, expires: ts + 1e9 },
              { checkedSk: sender.publicKey },
            ),
          ),
        );
        await Promise.all(mids.map((m) => store.deleteMessage(rid, m)));
      })) / batch;
    costs.push({
      name: `SQLite append + delete, ${batch} per transaction (relay's SqliteQueueStore)`,
      us: pairUs,
      perMessage: 1,
    });
    const readUs = await timeAsync(async () => {
      await store.queueBySid(sid);
    });
    costs.push({
      name: 'SQLite queue lookup (`queueBySid`)',
      us: readUs,
      perMessage: 2,
      note: 'send by sid, ack by rid',
    });
    const afterUs = await timeAsync(async () => {
      await store.messagesAfter(rid, ts * 10, 16, 0);
    });
    costs.push({
      name: 'SQLite `messagesAfter` (empty)',
      us: afterUs,
      perMessage: 1,
      note: 'each ack refills the window',
    });
    await store.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  return costs;
}
