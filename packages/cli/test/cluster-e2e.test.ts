// Three `parus relay` processes behind one address (decision 0049, issue 17): one PostgreSQL and
// one Redis started here on loopback in temporary folders, a TCP round-robin proxy standing for
// the operator's load balancer, clients (the client package's RelayConnection, which reconnects
// by itself) spread across the processes by it, 1:1 and group traffic, and one process SIGKILLed
// in the middle of the burst: nothing lost, nothing duplicated once deduplicated by the
// application's id as the account engine does, order kept.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateDhKeyPair,
  initCrypto,
  openDelivery,
  queueKey,
  systemRandom,
  toHex,
  utf8,
} from '@parus/core';
import { RelayConnection } from '@parus/client';
import { nodeTransport } from '../../client/src/node/index.ts';
import { startRoundRobinProxy } from '../../relay/test/support/round-robin-proxy.ts';
import type { RoundRobinProxy } from '../../relay/test/support/round-robin-proxy.ts';
import {
  POSTGRES_MISSING,
  postgresAvailable,
  startPostgresServer,
} from '../../relay/test/support/postgres-server.ts';
import { REDIS_MISSING, redisAvailable, startRedisServer } from '../../relay/test/support/redis-server.ts';

const BIN = resolve(import.meta.dirname, '../bin/parus.js');
const START_MS = 90_000;
const servers = postgresAvailable && redisAvailable;
if (!servers) console.warn(`cluster-e2e skipped: ${postgresAvailable ? REDIS_MISSING : POSTGRES_MISSING}`);

const PAIRS = 6;
const PER_PAIR = 60;
const MEMBERS = 4;
const GROUP_MESSAGES = 30;

interface Process {
  child: ChildProcess;
  port: number;
  address: string;
  dir: string;
}

async function startRelayProcess(store: string, bus: string, keySecret: string): Promise<Process> {
  const dir = mkdtempSync(join(tmpdir(), 'parus-cluster-'));
  const child = spawn(
    process.execPath,
    [
      BIN,
      'relay',
      '--port',
      '0',
      '--data',
      dir,
      '--store',
      store,
      '--key-secret',
      keySecret,
      '--bus',
      bus,
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const line = await Promise.race([
    new Promise<string>((ready, fail) => {
      createInterface({ input: child.stdout! }).once('line', ready);
      child.once('exit', (code) => fail(new Error(`relay exited with ${code}: ${stderr}`)));
    }),
    new Promise<string>((_, fail) => setTimeout(() => fail(new Error(`relay start: ${stderr}`)), START_MS)),
  ]);
  const started = JSON.parse(line) as { address: string; port: number };
  return { child, dir, ...started };
}

async function waitUntil(check: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Inbox {
  conn: RelayConnection;
  /** Application ids in the order they arrived, duplicates included. */
  arrived: number[];
}

describe.skipIf(!servers)('three relay processes, one PostgreSQL, one Redis, one address', () => {
  let pg: { url: string; stop(): Promise<void> };
  let redis: { url: string; stop(): Promise<void> };
  let secretDir: string;
  const processes: Process[] = [];
  let proxy: RoundRobinProxy;
  const conns: RelayConnection[] = [];

  beforeAll(async () => {
    await initCrypto();
    pg = await startPostgresServer();
    redis = await startRedisServer();
    // The operator's secret that the relay key is sealed under in the store, one for all processes.
    secretDir = mkdtempSync(join(tmpdir(), 'parus-cluster-secret-'));
    const secret = join(secretDir, 'key-secret');
    writeFileSync(secret, Buffer.from(systemRandom.bytes(32)).toString('hex'), { mode: 0o600 });
    for (let i = 0; i < 3; i++) processes.push(await startRelayProcess(pg.url, redis.url, secret));
    proxy = await startRoundRobinProxy(processes.map((p) => p.port));
  }, 300_000);

  afterAll(async () => {
    for (const c of conns) c.close();
    await proxy?.close();
    for (const p of processes) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        const exited = new Promise((done) => p.child.once('exit', done));
        p.child.kill('SIGTERM');
        await exited;
      }
      rmSync(p.dir, { recursive: true, force: true });
    }
    await redis?.stop();
    await pg?.stop();
    if (secretDir) rmSync(secretDir, { recursive: true, force: true });
  }, 120_000);

  it('1:1 and group traffic across the processes, one SIGKILLed mid burst: nothing lost or duplicated, order kept', async () => {
    // The processes share the relay key (kept in the store): one address stands for all of them.
    const fingerprints = new Set(processes.map((p) => p.address.replace(/@.*/, '')));
    expect(fingerprints.size).toBe(1);
    const address = processes[0]!.address.replace(/:\d+$/, `:${proxy.port}`);
    const connect = async (onMessage: (rid: Uint8Array, mid: Uint8Array, body: Uint8Array) => void) => {
      const conn = new RelayConnection({
        address,
        transport: nodeTransport(),
        rng: systemRandom,
        onMessage,
        requestTimeoutMs: 15_000,
        minBackoffMs: 100,
        maxBackoffMs: 500,
      });
      conns.push(conn);
      await conn.start();
      return conn;
    };
    const keys = new Map<string, Uint8Array>();
    const inboxes = new Map<string, Inbox>();
    const onMessage = (rid: Uint8Array, mid: Uint8Array, body: Uint8Array): void => {
      const id = toHex(rid);
      const { n } = JSON.parse(new TextDecoder().decode(openDelivery(keys.get(id)!, mid, body).body)) as {
        n: number;
      };
      inboxes.get(id)!.arrived.push(n);
    };
    /** A queue made and subscribed on `conn`, secured with a fresh sender key. */
    const queueOn = async (conn: RelayConnection) => {
      const rk = generateDhKeyPair(systemRandom);
      const rdh = generateDhKeyPair(systemRandom);
      const sk = generateDhKeyPair(systemRandom);
      const ids = await conn.command(
        { t: 'new', rk: rk.publicKey, rdh: rdh.publicKey, sk: sk.publicKey },
        rk.secretKey,
      );
      if (ids.t !== 'ids') throw new Error('expected ids');
      keys.set(toHex(ids.rid), queueKey(rdh.secretKey, ids.sdh, ids.rid));
      inboxes.set(toHex(ids.rid), { conn, arrived: [] });
      await conn.subscribe(ids.rid, rk.secretKey);
      return { rid: ids.rid, sid: ids.sid, sk: sk.secretKey };
    };
    /** Sends until the relay said ok, again after a lost connection (as the outbox does). */
    const sendSure = async (conn: RelayConnection, run: () => Promise<unknown>): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        try {
          await run();
          return;
        } catch (error) {
          if (attempt > 50) throw error;
          await conn.whenConnected(60_000).catch(() => {});
        }
      }
    };

    // 1:1: pairs of a sender and a recipient, each on its own connection through the proxy.
    const pairs: Array<{
      sender: RelayConnection;
      queue: { rid: Uint8Array; sid: Uint8Array; sk: Uint8Array };
    }> = [];
    for (let i = 0; i < PAIRS; i++) {
      const recipient = await connect(onMessage);
      const sender = await connect(() => {});
      pairs.push({ sender, queue: await queueOn(recipient) });
    }
    // A group: members on their own connections, the sender's fan-out list naming their queues.
    const members: Array<{ rid: Uint8Array; sid: Uint8Array; sk: Uint8Array }> = [];
    for (let i = 0; i < MEMBERS; i++) members.push(await queueOn(await connect(onMessage)));
    const groupSender = await connect(() => {});
    const fk = generateDhKeyPair(systemRandom).secretKey;
    const lid = await groupSender.createFanout(fk);
    await groupSender.addToFanout(lid, fk, members);
    const used = [...proxy.counts.values()].filter((n) => n > 0).length;
    expect(used).toBe(3);

    const sent = { n: 0 };
    const traffic = [
      ...pairs.map(async ({ sender, queue }) => {
        for (let n = 1; n <= PER_PAIR; n++) {
          const body = utf8(JSON.stringify({ n }));
          await sendSure(sender, () => sender.command({ t: 'send', sid: queue.sid, body }, queue.sk));
          sent.n += 1;
        }
      }),
      (async () => {
        for (let n = 1; n <= GROUP_MESSAGES; n++) {
          const body = utf8(JSON.stringify({ n }));
          await sendSure(groupSender, () => groupSender.fanoutSend(lid, fk, body));
          sent.n += 1;
        }
      })(),
    ];
    // Mid burst: the second process dies without a word.
    await waitUntil(() => sent.n >= (PAIRS * PER_PAIR + GROUP_MESSAGES) / 3, 'a third of the burst', 120_000);
    const victim = processes[1]!;
    const killed = new Promise((done) => victim.child.once('exit', done));
    victim.child.kill('SIGKILL');
    await killed;
    await Promise.all(traffic);

    const complete = (inbox: Inbox, count: number): boolean => new Set(inbox.arrived).size === count;
    await waitUntil(
      () =>
        pairs.every(({ queue }) => complete(inboxes.get(toHex(queue.rid))!, PER_PAIR)) &&
        members.every((m) => complete(inboxes.get(toHex(m.rid))!, GROUP_MESSAGES)),
      'every message at its recipient',
      180_000,
    );
    let duplicates = 0;
    for (const [rid, inbox] of inboxes) {
      const count = members.some((m) => toHex(m.rid) === rid) ? GROUP_MESSAGES : PER_PAIR;
      // Deduplicated by the application's id, in the order first seen: 1, 2, … count.
      const firstSeen = [...new Set(inbox.arrived)];
      expect(firstSeen).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      duplicates += inbox.arrived.length - firstSeen.length;
    }
    // Duplicates come only from the kill: a send retried (no `ok` heard) and unacked deliveries
    // redelivered (at most a window of 8 per queue).
    expect(duplicates).toBeLessThanOrEqual((PAIRS + MEMBERS) * 9);

    // The survivors: one relay, two processes, each on the bus.
    for (const p of [processes[0]!, processes[2]!]) {
      const status = (await (await fetch(`http://127.0.0.1:${p.port}/status.json`)).json()) as {
        process: { id: string; name: string };
        bus: { kind: string; connected: boolean };
      };
      expect(status.bus).toMatchObject({ kind: 'redis', connected: true });
      expect(status.process.id).toMatch(/^[0-9a-f]{16}$/);
    }
    // `parus relay status` says the same in lines: the shared store and the bus.
    const printed = execFileSync(
      process.execPath,
      [BIN, 'relay', 'status', `127.0.0.1:${processes[0]!.port}`],
      {
        encoding: 'utf8',
        env: { ...process.env, LANG: 'C', LC_ALL: 'C' },
      },
    );
    expect(printed).toMatch(/store: +postgres {3}blobs: postgres/);
    expect(printed).toMatch(/one of several on a Redis bus \(connected\)/);
  }, 600_000);
});
