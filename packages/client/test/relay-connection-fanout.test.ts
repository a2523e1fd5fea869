// RelayConnection's fan-out methods against a real relay: the calls the group engine makes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthError,
  NotFoundError,
  UsageError,
  generateDhKeyPair,
  initCrypto,
  openDelivery,
  queueKey,
  systemRandom,
  toHex,
  utf8,
} from '@parus/core';
import { startRelay } from '@parus/relay';
import { RelayConnection } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';
import { waitFor } from './support/wait-for.ts';

const dirs: string[] = [];
beforeAll(() => initCrypto());
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('RelayConnection fan-out', () => {
  it('creates a list, adds 130 queues in batches, sends once to all, removes, deletes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parus-fanout-'));
    dirs.push(dir);
    const relay = await startRelay({ port: 0, dataDir: dir });
    const received = new Map<string, string[]>();
    const keys = new Map<string, Uint8Array>();
    const conn = new RelayConnection({
      address: relay.address,
      transport: nodeTransport(),
      rng: systemRandom,
      onMessage: (rid, mid, body) => {
        const id = toHex(rid);
        const text = new TextDecoder().decode(openDelivery(keys.get(id)!, mid, body).body);
        received.set(id, [...(received.get(id) ?? []), text]);
      },
    });
    try {
      await conn.start();
      const queues: Array<{ rid: Uint8Array; sid: Uint8Array; sk: Uint8Array }> = [];
      for (let i = 0; i < 130; i++) {
        const rk = generateDhKeyPair(systemRandom);
        const rdh = generateDhKeyPair(systemRandom);
        const sk = generateDhKeyPair(systemRandom);
        const ids = await conn.command(
          { t: 'new', rk: rk.publicKey, rdh: rdh.publicKey, sk: sk.publicKey },
          rk.secretKey,
        );
        if (ids.t !== 'ids') throw new Error('expected ids');
        keys.set(toHex(ids.rid), queueKey(rdh.secretKey, ids.sdh, ids.rid));
        await conn.subscribe(ids.rid, rk.secretKey);
        queues.push({ rid: ids.rid, sid: ids.sid, sk: sk.secretKey });
      }
      const fk = generateDhKeyPair(systemRandom).secretKey;
      const lid = await conn.createFanout(fk);
      await conn.addToFanout(lid, fk, queues);
      expect(await conn.fanoutSend(lid, fk, utf8('hello group'))).toEqual({
        stored: 130,
        full: [],
        gone: [],
      });
      await waitFor(() => received.size === 130);
      await conn.removeFromFanout(
        lid,
        fk,
        queues.slice(0, 10).map((q) => q.sid),
      );
      expect((await conn.fanoutSend(lid, fk, utf8('second'))).stored).toBe(120);
      await waitFor(() => [...received.values()].filter((r) => r.length === 2).length === 120);
      for (const q of queues.slice(0, 10)) expect(received.get(toHex(q.rid))).toEqual(['hello group']);

      // Typed errors: a wrong sender key, a wrong list key, bad input, a deleted list.
      const stranger = generateDhKeyPair(systemRandom).secretKey;
      await expect(conn.addToFanout(lid, fk, [{ sid: queues[0]!.sid, sk: stranger }])).rejects.toThrow(
        AuthError,
      );
      await expect(conn.fanoutSend(lid, stranger, utf8('x'))).rejects.toThrow(AuthError);
      await expect(conn.fanoutSend(lid.subarray(1), fk, utf8('x'))).rejects.toThrow(UsageError);
      await conn.deleteFanout(lid, fk);
      await expect(conn.fanoutSend(lid, fk, utf8('x'))).rejects.toThrow(NotFoundError);
      await conn.drained();
    } finally {
      conn.close();
      await relay.close();
    }
  });
});
