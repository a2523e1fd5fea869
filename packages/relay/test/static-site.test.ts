// The relay serves the built web client with a strict CSP, and nothing outside its folder.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay, type Relay } from '../src/index.ts';
import { acceptsGzip } from '../src/static-site.ts';

let base: string;
const BIG_JS = 'export const greeting = "你好，阿美";\n'.repeat(400);
const BIG_CSS = '.bubble { color: #1d1d1f; padding: 8px 12px; }\n'.repeat(300);
let relay: Relay;

function get(
  path: string,
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string; raw: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: relay.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString('utf8'), raw });
      });
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
  writeFileSync(join(web, 'assets', 'big-5678.js'), BIG_JS);
  writeFileSync(join(web, 'assets', 'pre-9999.css'), BIG_CSS);
  // A precompressed copy made by the build: served as it is, not compressed again.
  writeFileSync(join(web, 'assets', 'pre-9999.css.gz'), gzipSync(BIG_CSS, { level: 1 }));
  writeFileSync(join(web, 'photo.png'), Buffer.alloc(4096, 7));
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

  it('sends text files gzipped to clients that accept it, the same bytes once unzipped', async () => {
    const plain = await get('/assets/big-5678.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('accept-encoding');
    expect(plain.body).toBe(BIG_JS);

    const zipped = await get('/assets/big-5678.js', 'GET', { 'accept-encoding': 'gzip, deflate, br' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toBe('accept-encoding');
    expect(Number(zipped.headers['content-length'])).toBe(zipped.raw.length);
    expect(zipped.raw.length).toBeLessThan(Buffer.byteLength(BIG_JS) / 10);
    expect(gunzipSync(zipped.raw).toString('utf8')).toBe(BIG_JS);
    expect(String(zipped.headers['content-security-policy'])).toContain("default-src 'self'");
    // Again, from the cache: the same answer.
    const again = await get('/assets/big-5678.js', 'GET', { 'accept-encoding': 'gzip' });
    expect(Buffer.compare(again.raw, zipped.raw)).toBe(0);
    const head = await get('/assets/big-5678.js', 'HEAD', { 'accept-encoding': 'gzip' });
    expect(head.headers['content-length']).toBe(zipped.headers['content-length']);
    expect(head.raw.length).toBe(0);

    // A rebuild that replaces the file is picked up, not answered from the cache.
    const rebuilt = `${BIG_JS}// rebuilt\n`;
    writeFileSync(join(base, 'web', 'assets', 'big-5678.js'), rebuilt);
    const fresh = await get('/assets/big-5678.js', 'GET', { 'accept-encoding': 'gzip' });
    expect(gunzipSync(fresh.raw).toString('utf8')).toBe(rebuilt);
    writeFileSync(join(base, 'web', 'assets', 'big-5678.js'), BIG_JS);
  });

  it('serves a precompressed .gz beside the file, and never gzips for a client that refuses it', async () => {
    const pre = await get('/assets/pre-9999.css', 'GET', { 'accept-encoding': 'gzip' });
    expect(pre.headers['content-encoding']).toBe('gzip');
    expect(Buffer.compare(pre.raw, gzipSync(BIG_CSS, { level: 1 }))).toBe(0);
    expect(gunzipSync(pre.raw).toString('utf8')).toBe(BIG_CSS);

    for (const refused of ['gzip;q=0', 'identity', 'br', '*;q=0', 'gzip;q=0, *']) {
      const r = await get('/assets/big-5678.js', 'GET', { 'accept-encoding': refused });
      expect(r.headers['content-encoding'], refused).toBeUndefined();
      expect(r.body).toBe(BIG_JS);
    }
    // Small files and images go out as they are.
    const small = await get('/assets/app-1234.js', 'GET', { 'accept-encoding': 'gzip' });
    expect(small.headers['content-encoding']).toBeUndefined();
    const png = await get('/photo.png', 'GET', { 'accept-encoding': 'gzip' });
    expect(png.headers['content-encoding']).toBeUndefined();
    expect(png.headers.vary).toBeUndefined();
  });

  it('reads Accept-Encoding as RFC 9110 says', () => {
    expect(acceptsGzip(undefined)).toBe(false);
    expect(acceptsGzip('')).toBe(false);
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('GZIP;Q=0.5')).toBe(true);
    expect(acceptsGzip('x-gzip')).toBe(true);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('br;q=1, *;q=0.1')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('gzip;q=0, *')).toBe(false);
    expect(acceptsGzip('deflate, br')).toBe(false);
    expect(acceptsGzip('gzip;q=abc')).toBe(false);
  });
});
