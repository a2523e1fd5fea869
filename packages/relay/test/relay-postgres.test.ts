// Relays on PostgreSQL (--store, decision 0047): processes sharing one database present one
// relay key and one set of queues (a message sent through one is received, acked once, on
// another; quotas hold across them), and a wrong store URL or key secret is refused at start
// with a typed error, creating nothing. Skipped, with a message, only without PostgreSQL.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageError, UsageError, initCrypto, openDelivery, parseRelayAddress, utf8 } from '@parus/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRelay } from '../src/index.ts';
import type { Relay } from '../src/index.ts';
import { POSTGRES_MISSING, postgresAvailable, startPostgresServer } from './support/postgres-server.ts';
import type { PostgresServer } from './support/postgres-server.ts';
import { Recipient, TestClient, send } from './test-client.ts';

describe.skipIf(!postgresAvailable)('relays sharing one PostgreSQL store', () => {
  let server: PostgresServer;
  let tmp: string;
  let secret: string;
  let databases = 0;
  const relays: Relay[] = [];
  const clients: TestClient[] = [];

  const database = (): Promise<string> => server.createDatabase(`relays_${++databases}`);
  const start = async (store: string, limits = {}): Promise<Relay> => {
    const relay = await startRelay({
      port: 0,
      dataDir: mkdtempSync(join(tmp, 'data-')),
      store,
      keySecret: secret,
      limits,
    });
    relays.push(relay);
    return relay;
  };
  const connect = async (relay: Relay): Promise<TestClient> => {
    const client = await TestClient.connect(relay.address);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    await initCrypto();
    server = await startPostgresServer();
    tmp = mkdtempSync(join(tmpdir(), 'parus-relay-pg-'));
    secret = join(tmp, 'key-secret');
    writeFileSync(secret, randomBytes(32), { mode: 0o600 });
  }, 120_000);
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await Promise.all(relays.splice(0).map((r) => r.close()));
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('two processes started at once present one relay key, and say they run on postgres', async () => {
    const url = await database();
    const [a, b] = await Promise.all([start(url), start(url)]);
    expect(parseRelayAddress(a.address).fingerprint).toEqual(parseRelayAddress(b.address).fingerprint);
    const c = await start(url);
    expect(parseRelayAddress(c.address).fingerprint).toEqual(parseRelayAddress(a.address).fingerprint);
    const status = (await (await fetch(`http://127.0.0.1:${a.port}/status.json`)).json()) as {
      store: string;
    };
    expect(status.store).toBe('postgres');
  });

  it('a message sent through one process is received and acked once on another', async () => {
    const url = await database();
    const [a, b] = await Promise.all([start(url), start(url)]);
    const alice = await connect(a);
    const bob = await connect(b);
    const q = new Recipient();
    await q.create(alice);
    expect(await send(bob, q.sid, utf8('across'))).toMatchObject({ t: 'ok' });
    // Alice moves to process b (her a connection is gone): she gets it there.
    const aliceOnB = await connect(b);
    expect(await q.sub(aliceOnB)).toMatchObject({ t: 'ok', pending: 1 });
    const [msg] = await aliceOnB.messages(q.rid, 1);
    expect(new TextDecoder().decode(openDelivery(q.key, msg!.mid, msg!.body).body)).toBe('across');
    expect(await q.ack(aliceOnB, msg!.mid)).toMatchObject({ t: 'ok' });
    // Acked on b: nothing comes back on a, and a second ack there is NOT_FOUND.
    const aliceOnA = await connect(a);
    expect(await q.sub(aliceOnA)).toMatchObject({ t: 'ok', pending: 0 });
    expect(await q.ack(aliceOnA, msg!.mid)).toMatchObject({ t: 'err', code: 'NOT_FOUND' });
  });

  it("a queue's quota holds across processes", async () => {
    const url = await database();
    const [a, b] = await Promise.all([
      start(url, { maxQueueMessages: 3 }),
      start(url, { maxQueueMessages: 3 }),
    ]);
    const alice = await connect(a);
    const bobA = await connect(a);
    const bobB = await connect(b);
    const q = new Recipient();
    await q.create(alice);
    const replies = await Promise.all([
      ...[1, 2, 3].map((i) => send(bobA, q.sid, utf8(`a${i}`))),
      ...[1, 2, 3].map((i) => send(bobB, q.sid, utf8(`b${i}`))),
    ]);
    expect(replies.filter((r) => r.t === 'ok')).toHaveLength(3);
    expect(replies.filter((r) => r.t === 'err' && r.code === 'QUOTA')).toHaveLength(3);
  });

  it('refuses a wrong key secret, a missing one and a wrong store URL, creating nothing', async () => {
    const url = await database();
    await start(url);
    const wrong = join(tmp, 'wrong-secret');
    writeFileSync(wrong, randomBytes(32), { mode: 0o600 });
    const fresh = (): string => join(tmp, `never-${randomBytes(4).toString('hex')}`);
    const dataDir = fresh();
    await expect(startRelay({ port: 0, dataDir, store: url, keySecret: wrong })).rejects.toBeInstanceOf(
      UsageError,
    );
    await expect(startRelay({ port: 0, dataDir, store: url })).rejects.toBeInstanceOf(UsageError);
    await expect(
      startRelay({ port: 0, dataDir, store: 'mysql://x@127.0.0.1/db', keySecret: secret }),
    ).rejects.toBeInstanceOf(UsageError);
    // Nothing listens on port 1.
    await expect(
      startRelay({ port: 0, dataDir, store: 'postgres://parus@127.0.0.1:1/parus', keySecret: secret }),
    ).rejects.toBeInstanceOf(StorageError);
    expect(existsSync(dataDir)).toBe(false);
    // The stored key is still the one the right secret opens.
    const again = await start(url);
    expect(again.address).toBeTruthy();
  });
});

describe.skipIf(postgresAvailable)('relays sharing one PostgreSQL store', () => {
  it.skip(POSTGRES_MISSING, () => {});
});
