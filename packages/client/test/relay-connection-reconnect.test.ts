// Reconnecting through a network cut: a real relay behind a TCP proxy on loopback that cuts
// and restores the link (support/tcp-proxy.ts). Correctness is asserted; the time it took to
// reconnect once the network was back is printed (docs/BENCHMARKS.md), never asserted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatRelayAddress,
  generateDhKeyPair,
  initCrypto,
  openDelivery,
  parseRelayAddress,
  queueKey,
  systemRandom,
  utf8,
  type Random,
} from '@parus/core';
import { startRelay, type Relay } from '@parus/relay';
import { RelayConnection } from '../src/index.ts';
import { MAX_BACKOFF_MS, MIN_BACKOFF_MS } from '../src/relay-connection.ts';
import { nodeTransport } from '../src/node/index.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';
import { waitFor as waitUntil } from './support/wait-for.ts';

const dirs: string[] = [];
beforeAll(async () => {
  await initCrypto();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function relayBehindProxy(): Promise<{ relay: Relay; proxy: TcpProxy; viaProxy: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'parus-reconnect-'));
  dirs.push(dir);
  const relay = await startRelay({ port: 0, dataDir: dir });
  const proxy = await startTcpProxy({ port: relay.port });
  const viaProxy = formatRelayAddress({ ...parseRelayAddress(relay.address), port: proxy.port });
  return { relay, proxy, viaProxy };
}

/** Waits longer and polls faster than the shared default: reconnects wait out backoff delays. */
function waitFor(check: () => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  return waitUntil(check, timeoutMs, what, 10);
}

/** Random bytes that are all 0xff: every jittered wait is its window's upper bound. */
const highest: Random = { bytes: (n) => new Uint8Array(n).fill(0xff) };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe('RelayConnection through a network cut', () => {
  it('comes back after each cut with every message once, in order', async () => {
    const { relay, proxy, viaProxy } = await relayBehindProxy();
    const received: string[] = [];
    let key: Uint8Array | undefined;
    const receiver = new RelayConnection({
      address: viaProxy,
      transport: nodeTransport(),
      rng: systemRandom,
      onMessage: (_rid, mid, body) => {
        received.push(new TextDecoder().decode(openDelivery(key!, mid, body).body));
      },
    });
    const sender = new RelayConnection({
      address: relay.address,
      transport: nodeTransport(),
      rng: systemRandom,
      onMessage: () => {},
    });
    const byTimer: number[] = [];
    const byRetryNow: number[] = [];
    try {
      await Promise.all([receiver.start(), sender.start()]);
      const rk = generateDhKeyPair(systemRandom);
      const rdh = generateDhKeyPair(systemRandom);
      const ids = await receiver.command({ t: 'new', rk: rk.publicKey, rdh: rdh.publicKey }, rk.secretKey);
      if (ids.t !== 'ids') throw new Error('expected ids');
      key = queueKey(rdh.secretKey, ids.sdh, ids.rid);
      await receiver.subscribe(ids.rid, rk.secretKey);
      const expected: string[] = [];
      const send = async (text: string): Promise<void> => {
        expected.push(text);
        await sender.command({ t: 'send', sid: ids.sid, body: utf8(text) });
      };
      await send('before any cut');
      await waitFor(() => received.length === expected.length);

      for (let cycle = 0; cycle < 4; cycle++) {
        // Acks out first: a delivery cut off before its ack comes again (at least once; the
        // account drops such repeats), which is not what this test counts.
        await receiver.drained();
        proxy.cut();
        await waitFor(() => !receiver.connected, 30_000, 'disconnect');
        for (let i = 0; i < 5; i++) await send(`cut ${cycle} message ${i}`);
        // A long outage: the client has failed enough times for its wait to reach the cap.
        const refused = proxy.refused;
        await waitFor(() => proxy.refused >= refused + 4, 30_000, `refusals ${proxy.refused}`);
        await waitFor(() => receiver.retryAt !== undefined, 30_000, 'retryAt');
        proxy.restore();
        const back = performance.now();
        // Every other cycle the network's return is announced (the browser's `online` event).
        if (cycle % 2 === 1) receiver.retryNow();
        await receiver.whenConnected(30_000);
        (cycle % 2 === 1 ? byRetryNow : byTimer).push(performance.now() - back);
        await waitFor(
          () => received.length === expected.length,
          30_000,
          `backlog ${received.length}/${expected.length}`,
        );
        await send(`after cut ${cycle}`);
        await waitFor(
          () => received.length === expected.length,
          30_000,
          `live ${received.length}/${expected.length}`,
        );
      }
      await receiver.drained();
      await receiver.command({ t: 'ping' }); // anything delivered twice would be here by now
      expect(received).toEqual(expected);
      expect(new Set(received).size).toBe(received.length);
      console.log(
        `time to reconnect once the network is back: by the backoff timer ${byTimer
          .map((ms) => `${ms.toFixed(0)} ms`)
          .join(', ')} (median ${median(byTimer).toFixed(0)} ms); ` +
          `by retryNow ${byRetryNow.map((ms) => `${ms.toFixed(0)} ms`).join(', ')}`,
      );
    } finally {
      receiver.close();
      sender.close();
      await proxy.close();
      await relay.close();
    }
  }, 120_000);

  it('retryNow connects at once instead of waiting out a long backoff, and does nothing while connected', async () => {
    const { relay, proxy, viaProxy } = await relayBehindProxy();
    const retries: number[] = [];
    // Ten minutes before the next attempt, unless retryNow cuts the wait short.
    const conn = new RelayConnection({
      address: viaProxy,
      transport: nodeTransport(),
      rng: highest,
      minBackoffMs: 600_000,
      maxBackoffMs: 600_000,
      onMessage: () => {},
      onRetry: (at) => retries.push(at),
    });
    try {
      await conn.start();
      conn.retryNow();
      await conn.command({ t: 'ping' });
      expect(proxy.forwarded).toBe(1);

      proxy.cut();
      await waitFor(() => retries.length === 1);
      proxy.restore();
      expect(conn.connected).toBe(false);
      expect(conn.retryAt).toBe(retries[0]);
      expect(retries[0]! - Date.now()).toBeGreaterThan(500_000);
      conn.retryNow();
      await conn.whenConnected(30_000);
      expect(proxy.forwarded).toBe(2);
      expect(conn.retryAt).toBeUndefined();
      await conn.command({ t: 'ping' });
    } finally {
      conn.close();
      await proxy.close();
      await relay.close();
    }
  }, 60_000);

  it('checkAlive reconnects a link that looks up but died silently, and leaves a live one alone', async () => {
    const { relay, proxy, viaProxy } = await relayBehindProxy();
    const states: string[] = [];
    const conn = new RelayConnection({
      address: viaProxy,
      transport: nodeTransport(),
      rng: systemRandom,
      onMessage: () => {},
      onState: (state) => states.push(state),
    });
    try {
      await conn.start();
      await conn.checkAlive(20_000);
      expect(conn.connected).toBe(true);
      expect(proxy.forwarded).toBe(1);

      proxy.blackhole(); // the socket stays open; nothing gets through any more
      expect(conn.connected).toBe(true);
      await conn.checkAlive(1_000);
      expect(states).toEqual(['connected', 'disconnected']);
      await conn.whenConnected(30_000);
      expect(proxy.forwarded).toBe(2);
      await conn.command({ t: 'ping' });
      expect(states).toEqual(['connected', 'disconnected', 'connected']);
    } finally {
      conn.close();
      await proxy.close();
      await relay.close();
    }
  }, 60_000);

  it('doubles its wait from the minimum up to the cap, and retryNow does not shorten it', async () => {
    const { relay, proxy, viaProxy } = await relayBehindProxy();
    proxy.cut();
    const waits: number[] = [];
    const conn: RelayConnection = new RelayConnection({
      address: viaProxy,
      transport: nodeTransport(),
      rng: highest,
      onMessage: () => {},
      onRetry: (at) => {
        waits.push(at - Date.now());
        conn.retryNow(); // the test does not wait the waits out
      },
    });
    try {
      conn.connect();
      await waitFor(() => waits.length >= 6);
      conn.close();
      const want = [1, 2, 4, 8, 16, 32].map((f) => Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * f));
      expect(want.at(-1)).toBe(MAX_BACKOFF_MS);
      waits.slice(0, 6).forEach((w, i) => {
        expect(w).toBeLessThanOrEqual(want[i]!);
        expect(w).toBeGreaterThan(want[i]! - 100);
      });
    } finally {
      conn.close();
      await proxy.close();
      await relay.close();
    }
  }, 60_000);

  it('spreads its waits over the whole window (full jitter), never past the cap', async () => {
    const { relay, proxy, viaProxy } = await relayBehindProxy();
    proxy.cut();
    const waits: number[] = [];
    const conn: RelayConnection = new RelayConnection({
      address: viaProxy,
      transport: nodeTransport(),
      rng: systemRandom,
      onMessage: () => {},
      onRetry: (at) => {
        waits.push(at - Date.now());
        conn.retryNow();
      },
    });
    try {
      conn.connect();
      await waitFor(() => waits.length >= 40);
      conn.close();
      for (const w of waits) {
        expect(w).toBeGreaterThanOrEqual(-50);
        expect(w).toBeLessThanOrEqual(MAX_BACKOFF_MS);
      }
      // Past the first few attempts every wait is uniform in [0, cap]: some fall in each half.
      const late = waits.slice(6);
      expect(late.some((w) => w < MAX_BACKOFF_MS / 2)).toBe(true);
      expect(late.some((w) => w > MAX_BACKOFF_MS / 2)).toBe(true);
    } finally {
      conn.close();
      await proxy.close();
      await relay.close();
    }
  }, 60_000);
});
