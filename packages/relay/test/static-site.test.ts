// The relay serves the built web client with a strict CSP, and nothing outside its folder.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay, type Relay } from '../src/index.ts';

let base: string;
let relay: Relay;

function get(
  path: string,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: relay.port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'parus-site-'));
  const web = join(base, 'web');
  mkdirSync(join(web, 'assets'), { recursive: true });
  writeFileSync(
    join(web, 'index.html'),
    '<!doctype html><html lang="zh-Hant-TW"><title>Parus</title></html>',
  );
  writeFileSync(join(web, 'assets', 'app-1234.js'), 'console.log(1)');
  writeFileSync(join(web, '.env'), 'SECRET=1');
  writeFileSync(join(base, 'secret.txt'), 'TOP SECRET');
  symlinkSync(join(base, 'secret.txt'), join(web, 'link.txt'));
  relay = await startRelay({ port: 0, dataDir: join(base, 'data'), webRoot: web });
});

afterAll(async () => {
  await relay.close();
  rmSync(base, { recursive: true, force: true });
});

describe('web client serving', () => {
  it('serves index.html at / with a strict Content-Security-Policy', async () => {
    const r = await get('/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toContain('text/html');
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.body).toContain('zh-Hant-TW');
  });

  it('serves hashed assets as immutable and falls back to index.html for app routes', async () => {
    const js = await get('/assets/app-1234.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toContain('text/javascript');
    expect(String(js.headers['cache-control'])).toContain('immutable');
    const route = await get('/chat/abc');
    expect(route.status).toBe(200);
    expect(route.body).toContain('<title>Parus</title>');
    expect((await get('/assets/missing.js')).status).toBe(404);
  });

  it('serves nothing outside its folder, no dot-files, no symlinks out, no other methods', async () => {
    for (const path of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/.env',
      '/link.txt',
      '/%00',
    ]) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
      expect(r.body).not.toContain('SECRET');
    }
    expect((await get('/', 'POST')).status).toBe(404);
  });

  it('tells the web client its address and keeps /health', async () => {
    const r = await get('/api/relay');
    expect(JSON.parse(r.body)).toEqual({ address: relay.address });
    expect(JSON.parse((await get('/health')).body).ok).toBe(true);
  });
});
