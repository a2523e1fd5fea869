// `parus relay` as its own process, as an operator runs it (bin/parus.js, which runs the relay
// from a bundle without tsx: docs/decisions/0035): the `--small` profile starts, serves and
// keeps its lower limits, and `--limit maxConnections=N` refuses connection N + 1 with HTTP 503.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { initCrypto, openDelivery, utf8, generateDhKeyPair, systemRandom } from '@parus/core';
import { SMALL_RELAY_LIMITS } from '@parus/relay';
import { WebSocket } from 'ws';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Recipient, TestClient, sendFrame, withTimeout } from '../../relay/test/test-client.ts';

const BIN = resolve(import.meta.dirname, '../bin/parus.js');
/** Starting a process (and bundling the relay) on a shared, busy machine can take a while. */
const START_MS = 60_000;

const running: Array<{ child: ChildProcess; dir: string }> = [];

beforeAll(() => initCrypto());

afterEach(async () => {
  for (const { child, dir } of running.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

interface Started {
  address: string;
  port: number;
  small: boolean;
}

async function startRelayProcess(args: string[]): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'parus-relay-process-'));
  const child = spawn(process.execPath, [BIN, 'relay', '--port', '0', '--data', dir, '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push({ child, dir });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const line = await withTimeout(
    new Promise<string>((ready, fail) => {
      createInterface({ input: child.stdout! }).once('line', ready);
      child.once('exit', (code) => fail(new Error(`relay exited with ${code}: ${stderr}`)));
    }),
    'relay start',
    START_MS,
  );
  return JSON.parse(line) as Started;
}

/** The HTTP status an upgrade to /ws gets, or 101 when it is taken. */
function upgradeStatus(port: number): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false });
  return withTimeout(
    new Promise<number>((done) => {
      ws.on('unexpected-response', (_req, res) => done(res.statusCode ?? 0));
      ws.on('open', () => {
        ws.terminate();
        done(101);
      });
      ws.on('error', () => done(-1));
    }),
    'upgrade',
  );
}

describe('parus relay as a process', () => {
  it('--small starts, serves a message end to end, and keeps its lower limits', async () => {
    const relay = await startRelayProcess(['--small']);
    expect(relay.small).toBe(true);
    const health = (await (await fetch(`http://127.0.0.1:${relay.port}/health`)).json()) as { ok: boolean };
    expect(health.ok).toBe(true);

    const bob = await TestClient.connect(relay.address);
    const alice = await TestClient.connect(relay.address);
    const sk = generateDhKeyPair(systemRandom);
    const queue = new Recipient();
    await queue.create(bob, sk);
    expect(await queue.sub(bob)).toMatchObject({ t: 'ok' });
    const send = sendFrame(alice, queue.sid, utf8('hello from a small relay'), sk);
    expect(await alice.request(send)).toMatchObject({ t: 'ok' });
    const msg = await bob.waitFor((f) => f.t === 'msg');
    if (msg.t !== 'msg') throw new Error('expected msg');
    expect(openDelivery(queue.key, msg.mid, msg.body).body).toEqual(utf8('hello from a small relay'));

    // Its limit per source address (lower than the default) is in force: all from 127.0.0.1.
    const perAddress = SMALL_RELAY_LIMITS.maxConnectionsPerAddress!;
    const more: TestClient[] = [];
    for (let i = 2; i < perAddress; i++) more.push(await TestClient.connect(relay.address));
    expect(await upgradeStatus(relay.port)).toBe(429);
    for (const c of [alice, bob, ...more]) c.ws.terminate();
  });

  it('--limit maxConnections=2 refuses a third connection with HTTP 503, and takes one again when a slot frees', async () => {
    const relay = await startRelayProcess(['--limit', 'maxConnections=2']);
    const first = await TestClient.connect(relay.address);
    const second = await TestClient.connect(relay.address);
    expect(await upgradeStatus(relay.port)).toBe(503);
    // The refused upgrade changed nothing: both connections still work.
    const q = new Recipient();
    await q.create(second);
    expect(await q.sub(second)).toMatchObject({ t: 'ok' });

    first.ws.close();
    await first.closed;
    // The relay sees the close on its own schedule: try until a connection is taken.
    const third = await withTimeout(
      (async () => {
        for (;;) {
          try {
            return await TestClient.connect(relay.address);
          } catch {
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      })(),
      'a freed slot',
      START_MS,
    );
    expect(await upgradeStatus(relay.port)).toBe(503);
    second.ws.terminate();
    third.ws.terminate();
  });
});
