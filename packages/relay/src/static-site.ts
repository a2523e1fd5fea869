/**
 * Serves the built web client (a folder of static files) with a strict Content-Security-
 * Policy. Only GET and HEAD, only files inside the folder (no traversal, no dot-files, no
 * symlinks out), and paths without an extension fall back to index.html (the app routes).
 *
 * Text files go out gzip-compressed to clients that accept it: a precompressed `NAME.gz`
 * beside the file when the build made one, or compressed here once and kept in a bounded
 * cache (keyed by path, size and modification time, so a rebuild is picked up).
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { constants as zlib, gzip as gzipCallback } from 'node:zlib';

const gzip = promisify(gzipCallback);

/**
 * The web client needs its own scripts and styles, WebAssembly for libsodium, WebSockets to
 * any relay (contacts may use other relays), and images from data: and blob: URLs (QR codes,
 * decrypted photos). Nothing inline, no plugins, no framing.
 */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self' ws: wss:",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** Types worth compressing (images other than SVG and fonts are compressed already). */
const COMPRESSIBLE = new Set([
  '.html',
  '.js',
  '.mjs',
  '.css',
  '.json',
  '.svg',
  '.wasm',
  '.txt',
  '.webmanifest',
]);

/** Below this, gzip's header and the lost Content-Length caching are not worth it. */
const MIN_COMPRESS_BYTES = 1024;

/** The on-the-fly cache holds at most this many compressed bytes by default (a build is a few MB). */
const CACHE_BYTES = 32 * 1024 * 1024;

/**
 * Whether an Accept-Encoding header (RFC 9110 §12.5.3) allows gzip: listed as gzip or
 * x-gzip, or covered by `*`, with a q-value above 0; an explicit gzip;q=0 refuses it.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let star = false;
  for (const part of header.split(',')) {
    const [token = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    const allowed = Number.isFinite(q) && q > 0;
    if (token === 'gzip' || token === 'x-gzip') return allowed;
    if (token === '*') star = allowed;
  }
  return star;
}

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': WEB_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  // Camera and microphone for calls and voice messages (decision 0046), on this origin only.
  'permissions-policy': 'camera=(self), microphone=(self), geolocation=()',
};

export class StaticSite {
  private readonly root: string;
  private readonly cache = new Map<string, { stamp: string; body: Buffer }>();
  private cached = 0;

  constructor(
    root: string,
    /** Compressed bytes kept at most (the small profile keeps fewer). */
    private readonly cacheBytes = CACHE_BYTES,
  ) {
    this.root = resolve(root);
  }

  /** Answers the request if it is for the site; returns false to let the caller 404. */
  async serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let relative: string;
    try {
      relative = decodeURIComponent(path);
    } catch {
      return false;
    }
    if (relative.includes('\0') || relative.split('/').some((part) => part.startsWith('.'))) return false;
    if (relative.endsWith('/')) relative += 'index.html';
    let file = await this.existing(relative);
    if (!file && extname(relative) === '') file = await this.existing('/index.html');
    if (!file) return false;
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const immutable = file.includes(`${sep}assets${sep}`);
    const compressible = COMPRESSIBLE.has(extname(file));
    let body: Buffer = await readFile(file);
    let encoded = false;
    if (compressible && body.length >= MIN_COMPRESS_BYTES && acceptsGzip(req.headers['accept-encoding'])) {
      body = await this.gzipped(file, body);
      encoded = true;
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': type,
      'content-length': body.length,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      // Caches must keep the plain and the gzipped answer apart.
      ...(compressible ? { vary: 'accept-encoding' } : {}),
      ...(encoded ? { 'content-encoding': 'gzip' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }

  /** The file gzipped: precompressed beside it when not older, else compressed once and cached. */
  private async gzipped(file: string, plain: Buffer): Promise<Buffer> {
    const info = await stat(file);
    const pre = await this.existing(`${file.slice((await realpath(this.root)).length)}.gz`);
    if (pre && (await stat(pre)).mtimeMs >= info.mtimeMs) return readFile(pre);
    const stamp = `${info.size}:${info.mtimeMs}`;
    const hit = this.cache.get(file);
    if (hit?.stamp === stamp) {
      // Most recently used last: the oldest entries are dropped first.
      this.cache.delete(file);
      this.cache.set(file, hit);
      return hit.body;
    }
    const body = await gzip(plain, { level: zlib.Z_BEST_COMPRESSION });
    if (hit) {
      this.cache.delete(file);
      this.cached -= hit.body.length;
    }
    if (body.length <= this.cacheBytes) {
      this.cache.set(file, { stamp, body });
      this.cached += body.length;
      for (const [key, old] of this.cache) {
        if (this.cached <= this.cacheBytes) break;
        this.cache.delete(key);
        this.cached -= old.body.length;
      }
    }
    return body;
  }

  /** The real path of a regular file inside the root, or undefined. */
  private async existing(relative: string): Promise<string | undefined> {
    const candidate = resolve(join(this.root, relative));
    if (candidate !== this.root && !candidate.startsWith(this.root + sep)) return undefined;
    try {
      const real = await realpath(candidate);
      const rootReal = await realpath(this.root);
      if (!real.startsWith(rootReal + sep)) return undefined;
      return (await stat(real)).isFile() ? real : undefined;
    } catch {
      return undefined;
    }
  }
}
