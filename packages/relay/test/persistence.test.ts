import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  StorageError,
  generateDhKeyPair,
  initCrypto,
  openDelivery,
  parseRelayAddress,
  systemRandom,
  toHex,
  utf8,
} from '@parus/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BLOB_FOLDER, QUEUE_DATABASE_FILE, SERVER_KEY_FILE, startRelay } from '../src/index.ts';
import type { RelayFrame } from '@parus/core';
import { tempRelays } from './temp-relay.ts';
import { Recipient, TestClient, containsBytes, send, sendFrame } from './test-client.ts';

const relays = tempRelays();
beforeAll(() => initCrypto());
afterEach(() => relays.cleanup());

function storeFiles(dir: string): Uint8Array[] {
  return [QUEUE_DATABASE_FILE, `${QUEUE_DATABASE_FILE}-wal`, `${QUEUE_DATABASE_FILE}-shm`]
    .map((f) => join(dir, f))
    .filter((p) => existsSync(p))
    .map((p) => readFileSync(p));
}

describe('persistence', () => {
  it('keeps messages, queues and its key across close() and restart', async () => {
    const dir = relays.dir();
    const first = await relays.start({ dataDir: dir });
    const client = await TestClient.connect(first.address);
    const q = new Recipient();
    await q.create(client);
    for (const text of ['one', 'two', 'three'])
      expect(await send(client, q.sid, utf8(text))).toMatchObject({ t: 'ok' });
    await first.close();

    expect(statSync(join(dir, SERVER_KEY_FILE)).mode & 0o777).toBe(0o600);
    const second = await relays.start({ dataDir: dir });
    expect(parseRelayAddress(second.address).fingerprint).toEqual(
      parseRelayAddress(first.address).fingerprint,
    );
    expect(second.stats()).toMatchObject({ queues: 1, messages: 3 });
    const again = await TestClient.connect(second.address);
    expect(again.relayKey).toEqual(client.relayKey);
    expect(await q.sub(again)).toMatchObject({ t: 'ok', pending: 3 });
    const got = await again.messages(q.rid, 3);
    expect(got.map((m) => new TextDecoder().decode(openDelivery(q.key, m.mid, m.body).body))).toEqual([
      'one',
      'two',
      'three',
    ]);
  });

  it('keeps its data folder 0700 and every file in it 0600, and tightens looser ones on start', async () => {
    const dir = relays.dir();
    chmodSync(dir, 0o755); // a folder made by hand, or by an earlier version
    const relay = await relays.start({ dataDir: dir });
    const client = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(client);
    expect(await send(client, q.sid, utf8('one'))).toMatchObject({ t: 'ok' });
    // A blob's chunk file too.
    const uk = generateDhKeyPair(systemRandom);
    const dk = generateDhKeyPair(systemRandom);
    const blob = await client.request(
      client.authed({ t: 'bnew', uk: uk.publicKey, dk: dk.publicKey, size: 3 }, uk),
    );
    if (blob.t !== 'blob') throw new Error('expected a blob');
    const put = await client.request(
      client.authed({ t: 'bput', bid: blob.bid, n: 0, data: utf8('abc') }, uk),
    );
    expect(put).toMatchObject({ t: 'ok' });

    const modes = (): Record<string, number> => {
      const out: Record<string, number> = { '.': statSync(dir).mode & 0o777 };
      for (const name of readdirSync(dir)) out[name] = statSync(join(dir, name)).mode & 0o777;
      for (const name of readdirSync(join(dir, BLOB_FOLDER)))
        out[`${BLOB_FOLDER}/${name}`] = statSync(join(dir, BLOB_FOLDER, name)).mode & 0o777;
      return out;
    };
    const expected = (): Record<string, number> =>
      Object.fromEntries(
        Object.keys(modes()).map((k) => [k, k === '.' || k === BLOB_FOLDER ? 0o700 : 0o600]),
      );
    expect(Object.keys(modes())).toEqual(
      expect.arrayContaining([
        QUEUE_DATABASE_FILE,
        `${QUEUE_DATABASE_FILE}-wal`,
        SERVER_KEY_FILE,
        BLOB_FOLDER,
      ]),
    );
    expect(Object.keys(modes()).filter((k) => k.startsWith(`${BLOB_FOLDER}/`))).toHaveLength(1);
    expect(modes()).toEqual(expected());
    await relay.close();

    // Loosened by hand (or made by an earlier version): the next start tightens them.
    for (const name of Object.keys(modes()))
      chmodSync(join(dir, name), name === '.' || name === BLOB_FOLDER ? 0o755 : 0o644);
    await relays.start({ dataDir: dir });
    const after = modes();
    for (const [name, mode] of Object.entries(after)) {
      if (name.startsWith(`${BLOB_FOLDER}/`)) continue; // chunk files: created 0600, never loosened by the relay
      expect([name, mode]).toEqual([name, name === '.' || name === BLOB_FOLDER ? 0o700 : 0o600]);
    }
  });

  it('never writes a sent body to the database or its WAL', async () => {
    const dir = relays.dir();
    const logs: string[] = [];
    const relay = await relays.start({ dataDir: dir, log: (l) => logs.push(l) });
    const client = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(client);
    // node:crypto for bulk random data: libsodium's WebAssembly RNG is slow for large buffers.
    const bodies = [randomBytes(64), randomBytes(5000), randomBytes(150_000)].map((b) => new Uint8Array(b));
    for (const b of bodies) expect(await send(client, q.sid, b)).toMatchObject({ t: 'ok' });

    // While running, the commits sit in the WAL...
    expect(existsSync(join(dir, `${QUEUE_DATABASE_FILE}-wal`))).toBe(true);
    const probes = bodies.map((b) => b.subarray(0, 32));
    for (const file of storeFiles(dir)) for (const p of probes) expect(containsBytes(file, p)).toBe(false);
    await relay.close();
    // ...and after close, in the database file.
    const files = storeFiles(dir);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) for (const p of probes) expect(containsBytes(file, p)).toBe(false);
    for (const line of logs) for (const b of bodies) expect(line).not.toContain(toHex(b.subarray(0, 8)));
  });

  it('a second relay on the same data folder fails instead of sharing it', async () => {
    const dir = relays.dir();
    await relays.start({ dataDir: dir });
    await expect(startRelay({ port: 0, dataDir: dir })).rejects.toBeInstanceOf(StorageError);
  });

  it('an unreadable key file stops the relay instead of replacing its identity', async () => {
    const dir = relays.dir();
    const relay = await relays.start({ dataDir: dir });
    await relay.close();
    writeFileSync(join(dir, SERVER_KEY_FILE), 'not a key', { mode: 0o600 });
    await expect(startRelay({ port: 0, dataDir: dir })).rejects.toBeInstanceOf(StorageError);
    expect(readFileSync(join(dir, SERVER_KEY_FILE), 'utf8')).toBe('not a key');
  });

  it('close() commits accepted sends first: every ok survives a restart', async () => {
    const dir = relays.dir();
    const relay = await relays.start({ dataDir: dir });
    const client = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(client);

    const frames = Array.from({ length: 200 }, (_, i) => sendFrame(client, q.sid, utf8(`n${i}`)));
    const replies = frames.map((f) => client.replyTo(f.id).catch((): RelayFrame | undefined => undefined));
    for (const f of frames) client.sendFrame(f);
    await replies[0];
    await relay.close();
    const settled = await Promise.all(
      replies.map((r) => Promise.race([r, client.closed.then(() => undefined)])),
    );
    const acknowledged = settled.flatMap((r, i) => (r?.t === 'ok' ? [`n${i}`] : []));
    expect(acknowledged.length).toBeGreaterThan(0);

    const restarted = await relays.start({ dataDir: dir });
    const reader = await TestClient.connect(restarted.address);
    const sub = await q.sub(reader);
    expect(sub.t).toBe('ok');
    const pending = sub.t === 'ok' ? (sub.pending ?? 0) : 0;
    expect(pending).toBeGreaterThanOrEqual(acknowledged.length);
    const got = (await reader.messages(q.rid, Math.min(pending, 128))).map((m) =>
      new TextDecoder().decode(openDelivery(q.key, m.mid, m.body).body),
    );
    // Replies go out in commit order, so the acknowledged ones are a prefix of what was stored.
    expect(got.slice(0, Math.min(acknowledged.length, 128))).toEqual(acknowledged.slice(0, 128));
  });
});
