import { request } from 'node:http';
import {
  VerificationError,
  fingerprintMatches,
  formatRelayAddress,
  initCrypto,
  parseRelayAddress,
  relayFingerprint,
  systemRandom,
} from '@parus/core';
import { WebSocket } from 'ws';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../src/index.ts';
import { tempRelays } from './temp-relay.ts';
import { Recipient, TestClient, withTimeout } from './test-client.ts';

const relays = tempRelays();
beforeAll(() => initCrypto());
afterEach(() => relays.cleanup());

function http(
  relay: Relay,
  method: string,
  path: string,
): Promise<{ status: number; body: string; type: string }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = request({ host: relay.host, port: relay.port, method, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] ?? '' }),
        );
      });
      req.on('error', reject);
      req.end();
    }),
    `${method} ${path}`,
  );
}

describe('handshake', () => {
  it('signs the welcome with the key whose fingerprint is in the address', async () => {
    const relay = await relays.start();
    expect(relay.address).toBe(`${relay.address.split('@')[0]}@127.0.0.1:${relay.port}`);
    const client = await TestClient.connect(relay.address);
    const parsed = parseRelayAddress(relay.address);
    expect(fingerprintMatches(parsed, client.relayKey)).toBe(true);
    expect(client.session).toHaveLength(32);
    expect(client.relayDh).toHaveLength(32);
    // Each connection gets its own session nonce and its own relay X25519 key (both signed:
    // TestClient.connect checks the welcome signature over them).
    const other = await TestClient.connect(relay.address);
    expect(other.session).not.toEqual(client.session);
    expect(other.relayDh).not.toEqual(client.relayDh);
  });

  it('a client expecting another fingerprint detects the impostor', async () => {
    const relay = await relays.start();
    const parsed = parseRelayAddress(relay.address);
    const expected = formatRelayAddress({ ...parsed, fingerprint: relayFingerprint(systemRandom.bytes(32)) });
    await expect(TestClient.connect(expected)).rejects.toBeInstanceOf(VerificationError);
  });

  it('two relays have different keys', async () => {
    const a = await relays.start();
    const b = await relays.start();
    expect(parseRelayAddress(a.address).fingerprint).not.toEqual(parseRelayAddress(b.address).fingerprint);
  });

  it('puts publicHost into the address', async () => {
    const relay = await relays.start({ publicHost: 'relay.example.org' });
    expect(parseRelayAddress(relay.address)).toMatchObject({ host: 'relay.example.org', port: relay.port });
  });
});

describe('HTTP', () => {
  it('GET /health answers 200 JSON with counts only', async () => {
    const relay = await relays.start();
    const client = await TestClient.connect(relay.address);
    await new Recipient().create(client);
    const res = await http(relay, 'GET', '/health');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^application\/json/);
    const health = JSON.parse(res.body) as Record<string, unknown>;
    expect(health).toMatchObject({ ok: true, queues: 1 });
    expect(typeof health.version).toBe('string');
    expect(typeof health.uptime).toBe('number');
  });

  it('answers 404 to every other path and method', async () => {
    const relay = await relays.start();
    expect((await http(relay, 'GET', '/')).status).toBe(404);
    expect((await http(relay, 'GET', '/nope')).status).toBe(404);
    expect((await http(relay, 'POST', '/health')).status).toBe(404);
    expect((await http(relay, 'GET', '/ws')).status).toBe(404);
  });

  it('refuses a WebSocket upgrade on another path', async () => {
    const relay = await relays.start();
    const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/elsewhere`);
    const status = await withTimeout(
      new Promise<number>((resolve) => {
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => resolve(-1));
      }),
      'refusal',
    );
    expect(status).toBe(404);
  });
});

describe('lifecycle', () => {
  it('close() ends open connections and frees the port', async () => {
    const relay = await relays.start();
    const client = await TestClient.connect(relay.address);
    await relay.close();
    expect((await client.closed).code).toBe(1001);
    await expect(TestClient.connect(relay.address)).rejects.toThrow();
    await relay.close(); // twice is fine
  });

  it('an aborted signal closes the relay', async () => {
    const controller = new AbortController();
    const logs: string[] = [];
    const relay = await relays.start({ signal: controller.signal, log: (l) => logs.push(l) });
    const client = await TestClient.connect(relay.address);
    controller.abort();
    await client.closed;
    await relay.close();
    expect(logs).toContain('relay closed');
  });

  it('refuses to start with an already aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(relays.start({ signal: controller.signal })).rejects.toThrow();
  });

  it('refuses limits that make no sense', async () => {
    await expect(relays.start({ limits: { maxConnections: 0 } })).rejects.toThrow(/maxConnections/);
    await expect(relays.start({ limits: { heartbeatMs: Number.POSITIVE_INFINITY } })).rejects.toThrow();
  });
});
