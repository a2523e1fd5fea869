/**
 * The recipients of the fan-out benchmark (fanout-bench.ts): every member of one group, in
 * one process of its own, forked with a JSON FanoutRecipientsConfig as its argument.
 *
 * Relay recipients speak the real protocol, one connection per member as separate devices
 * would: hello with the fingerprint check, a queue of their own secured with a sender key
 * of their own (whose secret goes to the orchestrator, as a member would give it to the
 * group's senders), `sub`, then for each delivery: open the sealed body, read the send
 * time from it, and ack it, authenticated (the acks of one event-loop turn in one batched
 * `ack` per queue, as the account engine acks a burst). Broadcast recipients register with the raw
 * broadcaster and read the send time from the frame.
 *
 * Send times are wall-clock milliseconds (performance.timeOrigin + performance.now()) taken
 * in the sender's process, so latencies across the two processes carry the clocks' offset
 * (well under a millisecond on one machine).
 */
import { performance } from 'node:perf_hooks';
import {
  DH_BYTES,
  dhKeyPairFromSecret,
  generateDhKeyPair,
  initCrypto,
  openDelivery,
  parseRelayAddress,
  queueKey,
  systemRandom,
  toHex,
  fromHex,
} from '@parus/core';
import type { MsgFrame } from '@parus/core';
import WebSocket from 'ws';
import { describeError } from './ipc.ts';
import type { LatencySummary } from './ipc.ts';
import { GROUP_ID_BYTES, ROLE_RECIPIENT } from './raw-broadcaster.ts';
import { BenchRelayClient, asBytes } from './relay-client.ts';
import { Samples, summarise } from './stats.ts';

export interface FanoutRecipientsConfig {
  target: 'relay' | 'broadcast';
  address: string;
  recipients: number;
  /** The broadcaster's group (hex). */
  group: string;
  setupConcurrency: number;
  /** Where the send time sits in a broadcast frame. */
  rawTimeOffset: number;
  /** Relay recipients ack each copy (false: the fan-out path alone, with a large delivery window). */
  ack: boolean;
  /** Relay recipients subscribe; false leaves them offline (queues only fill). */
  subscribe: boolean;
}

export type RecipientsMessage =
  | { type: 'ready'; setupMs: number; entries: Array<{ sid: string; sk: string }> }
  | {
      type: 'window';
      delivered: number;
      latencyMs: LatencySummary;
      cpuMs: number;
    }
  | { type: 'stopped'; received: number; acked: number; errors: Record<string, number> }
  | { type: 'failed'; error: string };

export type RecipientsCommand =
  | { type: 'mark-start' }
  | { type: 'mark-end' }
  /** `expected`: the copies the relay answered for; wait (bounded) until they all arrived. */
  | { type: 'stop'; expected: number };

const REQUEST_TIMEOUT_MS = 60_000;

function post(m: RecipientsMessage): void {
  process.send?.(m);
}

function sendThenExit(m: RecipientsMessage, code: number): void {
  if (!process.send) process.exit(code);
  process.send(m, undefined, {}, () => process.exit(code));
}

function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

async function pool(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

class Meter {
  measuring = false;
  delivered = 0;
  received = 0;
  latencies = new Samples(4_000_000);

  arrived(sentMs: number): void {
    this.received += 1;
    if (!this.measuring) return;
    this.delivered += 1;
    this.latencies.push(wallMs() - sentMs);
  }
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as FanoutRecipientsConfig;
  await initCrypto();
  const meter = new Meter();
  const started = performance.now();
  const entries: Array<{ sid: string; sk: string }> = [];
  const conns: BenchRelayClient[] = [];
  const sockets: WebSocket[] = [];

  if (cfg.target === 'relay') {
    const address = parseRelayAddress(cfg.address);
    const rng = systemRandom;
    await pool(cfg.recipients, cfg.setupConcurrency, async () => {
      const conn = await BenchRelayClient.connect(address, rng, REQUEST_TIMEOUT_MS);
      const rk = generateDhKeyPair(rng);
      const rdh = dhKeyPairFromSecret(rng.bytes(DH_BYTES));
      const sk = generateDhKeyPair(rng);
      const ids = await conn.createQueue(rk.publicKey, rk.secretKey, rdh.publicKey, sk.publicKey);
      const key = queueKey(rdh.secretKey, ids.sdh, ids.rid);
      conn.onMsg = (frame: MsgFrame) => {
        const { body } = openDelivery(key, frame.mid, frame.body);
        if (cfg.ack) conn.ackBatched(ids.rid, frame.mid, rk.secretKey);
        meter.arrived(new DataView(body.buffer, body.byteOffset).getFloat64(0));
      };
      if (cfg.subscribe) await conn.subscribe(ids.rid, rk.secretKey);
      conns.push(conn);
      entries.push({ sid: toHex(ids.sid), sk: toHex(sk.secretKey) });
    });
  } else {
    const group = fromHex(cfg.group);
    const hello = new Uint8Array(GROUP_ID_BYTES + 1);
    hello.set(group);
    hello[GROUP_ID_BYTES] = ROLE_RECIPIENT;
    await pool(cfg.recipients, cfg.setupConcurrency, async () => {
      const ws = new WebSocket(cfg.address, { perMessageDeflate: false });
      await new Promise<void>((resolve, reject) => {
        ws.once('error', reject);
        ws.once('open', () => ws.send(hello));
        ws.once('message', () => {
          ws.off('error', reject);
          resolve();
        });
      });
      ws.on('message', (data: WebSocket.RawData) => {
        const b = asBytes(data);
        meter.arrived(new DataView(b.buffer, b.byteOffset).getFloat64(cfg.rawTimeOffset));
      });
      sockets.push(ws);
    });
  }
  post({ type: 'ready', setupMs: performance.now() - started, entries });

  let cpuAtStart = process.cpuUsage();
  /**
   * Waits (bounded) for the copies still on their way (a run without acks can leave seconds of
   * backlog in the relay's socket buffers) and for the relay's answers to the acks, then reports.
   */
  const stop = async (expected: number): Promise<void> => {
    const until = performance.now() + 30_000;
    while (meter.received < expected && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const answered = (): number => conns.reduce((n, c) => n + c.ackedIds, 0);
    while (cfg.ack && conns.length > 0 && answered() < meter.received && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const errors: Record<string, number> = {};
    let acked = 0;
    for (const c of conns) {
      acked += c.ackedIds;
      for (const [k, v] of c.errors) errors[k] = (errors[k] ?? 0) + v;
    }
    for (const c of conns) c.terminate();
    for (const ws of sockets) ws.terminate();
    sendThenExit({ type: 'stopped', received: meter.received, acked, errors }, 0);
  };

  process.on('message', (m: RecipientsCommand) => {
    if (m.type === 'mark-start') {
      meter.measuring = true;
      cpuAtStart = process.cpuUsage();
    } else if (m.type === 'mark-end') {
      meter.measuring = false;
      const cpu = process.cpuUsage(cpuAtStart);
      post({
        type: 'window',
        delivered: meter.delivered,
        latencyMs: summarise(meter.latencies.values()),
        cpuMs: (cpu.user + cpu.system) / 1000,
      });
    } else if (m.type === 'stop') {
      void stop(m.expected);
    }
  });
}

main().catch((error: unknown) => {
  sendThenExit({ type: 'failed', error: describeError(error) }, 1);
});
