/**
 * Plays the stranger of docs/decisions/0023 against a real relay on loopback: one connection,
 * no account, for --seconds (default 20); --connections N plays it on N connections at once
 * (from the same address). It creates a queue, fills it with the largest sends
 * a frame holds (unauthenticated: the queue is not secured), creates another queue when one
 * is full, and keeps trying when it is refused. At the end it prints how many bytes the relay's
 * data folder holds and what the relay stored.
 *
 *   node --import tsx bench/stranger-fill.ts [--seconds 20] [--connections 1] [--limits '{"maxStoredBytes":1e9}']
 *
 * The relay runs in a child process of its own (this file again, with --relay), with its
 * default limits unless --limits names others, and its data in a temporary folder removed
 * afterwards.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  MAX_BODY_BYTES,
  RELAY_PROTOCOL_VERSION,
  authenticateCommand,
  decodeRelayFrame,
  deriveCommandAuthKey,
  encodeFrame,
  generateDhKeyPair,
  initCrypto,
  parseRelayAddress,
  relayWebSocketUrl,
  systemRandom,
} from '@parus/core';
import type { NewFrame, RelayFrame } from '@parus/core';
import { startRelay } from '@parus/relay';
import type { RelayLimits } from '@parus/relay';
import WebSocket from 'ws';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    connections: { type: 'string', default: '1' },
    limits: { type: 'string', default: '{}' },
    relay: { type: 'string' },
  },
});

/** Bytes of every file under `dir`. */
function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(path) : statSync(path).size;
  }
  return total;
}

async function runRelay(dataDir: string): Promise<void> {
  const relay = await startRelay({
    port: 0,
    dataDir,
    limits: JSON.parse(values.limits) as Partial<RelayLimits>,
  });
  process.send?.({ address: relay.address });
  process.on('message', (message: { stop?: boolean }) => {
    if (!message.stop) return;
    const stats = relay.stats() as unknown as Record<string, unknown>;
    void relay.close().then(() => {
      process.send?.({ stats });
      process.exit(0);
    });
  });
}

/** The stranger: one connection, no account. */
async function stranger(address: string, seconds: number): Promise<Record<string, number>> {
  const url = relayWebSocketUrl(parseRelayAddress(address));
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const waiting = new Map<number, (frame: RelayFrame) => void>();
  let welcome: ((frame: RelayFrame) => void) | undefined;
  ws.on('message', (data: Buffer) => {
    const frame = decodeRelayFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (frame.t === 'welcome') return welcome?.(frame);
    const id = 'id' in frame ? frame.id : undefined;
    if (id === undefined) return;
    waiting.get(id)?.(frame);
    waiting.delete(id);
  });
  const hello = new Promise<RelayFrame>((resolve) => (welcome = resolve));
  ws.send(encodeFrame({ t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge: systemRandom.bytes(32) }));
  const w = await hello;
  if (w.t !== 'welcome') throw new Error('no welcome');
  let nextId = 0;
  const request = (frame: { id: number } & Parameters<typeof encodeFrame>[0]): Promise<RelayFrame> =>
    new Promise((resolve) => {
      waiting.set(frame.id, resolve);
      ws.send(encodeFrame(frame));
    });
  const counts = { queues: 0, sends: 0, refusedNew: 0, refusedSend: 0, queueFull: 0 };
  const newQueue = async (): Promise<Uint8Array | undefined> => {
    const rk = generateDhKeyPair(systemRandom);
    const rdh = generateDhKeyPair(systemRandom);
    const frame: NewFrame = {
      t: 'new',
      id: ++nextId,
      rk: rk.publicKey,
      rdh: rdh.publicKey,
      auth: new Uint8Array(0),
    };
    const k = deriveCommandAuthKey(rk.secretKey, w.dh, w.session, rk.publicKey);
    frame.auth = authenticateCommand(k, w.session, frame);
    const reply = await request(frame);
    if (reply.t === 'ids') {
      counts.queues += 1;
      return reply.sid;
    }
    counts.refusedNew += 1;
    return undefined;
  };
  const body = systemRandom.bytes(MAX_BODY_BYTES);
  const end = performance.now() + seconds * 1000;
  const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  // Up to 64 sends in flight, all the time; a full queue is replaced by a new one.
  let sid: Uint8Array | undefined;
  let creating: Promise<void> | undefined;
  let inFlight = 0;
  let backoff: Promise<void> | undefined;
  const refill = async (): Promise<void> => {
    sid = await newQueue();
    if (!sid) await pause(200);
    creating = undefined;
  };
  await new Promise<void>((done) => {
    const pump = (): void => {
      if (performance.now() >= end) {
        if (inFlight === 0) done();
        return;
      }
      if (!sid) {
        creating ??= refill().then(pump);
        return;
      }
      if (backoff) return;
      while (inFlight < 64 && sid) {
        inFlight += 1;
        const target = sid;
        void request({ t: 'send', id: ++nextId, sid: target, body }).then((reply) => {
          inFlight -= 1;
          if (reply.t === 'ok') counts.sends += 1;
          else if (reply.t === 'err' && reply.msg === 'queue is full') {
            counts.queueFull += 1;
            if (sid === target) sid = undefined;
          } else {
            counts.refusedSend += 1;
            if (process.env.DEBUG) console.error(reply);
            backoff ??= pause(100).then(() => {
              backoff = undefined;
              pump();
            });
          }
          pump();
        });
      }
    };
    pump();
  });
  ws.terminate();
  return counts;
}

async function main(): Promise<void> {
  if (values.relay) return runRelay(values.relay);
  await initCrypto();
  const dir = mkdtempSync(join(tmpdir(), 'parus-stranger-'));
  const child = fork(import.meta.filename, ['--relay', dir, '--limits', values.limits], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const { address } = await new Promise<{ address: string }>((resolve) =>
      child.once('message', (m) => resolve(m as { address: string })),
    );
    const seconds = Number(values.seconds);
    const connections = Number(values.connections);
    const all = await Promise.all(Array.from({ length: connections }, () => stranger(address, seconds)));
    const counts: Record<string, number> = {};
    for (const c of all) for (const [k, v] of Object.entries(c)) counts[k] = (counts[k] ?? 0) + v;
    const { stats } = await new Promise<{ stats: Record<string, unknown> }>((resolve) => {
      child.on('message', (m: Record<string, unknown>) => {
        if ('stats' in m) resolve(m as { stats: Record<string, unknown> });
      });
      child.send({ stop: true });
    });
    const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
    console.log(`stranger, ${seconds} s, ${connections} connection(s) from 127.0.0.1:`);
    console.log(
      `  queues created ${counts.queues}, refused ${counts.refusedNew}; sends stored ${counts.sends}, ` +
        `refused ${counts.refusedSend} (quota of the address or the relay), ${counts.queueFull} to a full queue`,
    );
    console.log(`  relay data folder: ${mb(folderBytes(dir))}`);
    console.log(`  messages stored: ${String(stats.messages)}, queues: ${String(stats.queues)}`);
    if (typeof stats.storedBytes === 'number')
      console.log(`  counted against the storage budget: ${mb(stats.storedBytes)}`);
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
