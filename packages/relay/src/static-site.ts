/**
 * Serves the built web client (a folder of static files) with a strict Content-Security-
 * Policy. Only GET and HEAD, only files inside the folder (no traversal, no dot-files, no
 * symlinks out), and paths without an extension fall back to index.html (the app routes).
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

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

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': WEB_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'camera=(self), microphone=(), geolocation=()',
};

export class StaticSite {
  private readonly root: string;

  constructor(root: string) {
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
    const body = await readFile(file);
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const immutable = file.includes(`${sep}assets${sep}`);
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': type,
      'content-length': body.length,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
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
