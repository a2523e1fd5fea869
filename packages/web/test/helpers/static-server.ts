/**
 * A tiny static file server for browser tests, with the strict Content-Security-Policy the
 * relay will send: the app must work with no inline script or style, no eval (only
 * WebAssembly compilation), and connections to its own origin and loopback relays only.
 * It also answers GET /api/relay as the relay will, when given an address.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

export const CSP = [
  "default-src 'self'",
  "connect-src 'self' ws://127.0.0.1:*",
  "img-src 'self' data: blob:",
  "style-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

/** Where the files come from: a folder on disk, or a map of path → bytes (a build in memory). */
export type FileSource = string | Map<string, Uint8Array | string>;

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

async function lookup(source: FileSource, path: string): Promise<Uint8Array | string | undefined> {
  if (typeof source !== 'string') return source.get(path);
  const file = normalize(join(source, path));
  if (!file.startsWith(normalize(source) + sep)) return undefined;
  try {
    return await readFile(file);
  } catch {
    return undefined;
  }
}

export async function serveStatic(opts: {
  files: FileSource;
  relayAddress?: string;
  /**
   * Answer /api/relay as a relay that serves the page itself does (the page then offers its own
   * host and port); by default the answer says the address is `fixed`, this server not being it.
   */
  likeRelay?: boolean;
}): Promise<StaticServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const headers: Record<string, string> = {
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    };
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, headers).end();
      return;
    }
    if (path === '/api/relay') {
      if (!opts.relayAddress) {
        res.writeHead(404, headers).end();
        return;
      }
      res.writeHead(200, { ...headers, 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          opts.likeRelay ? { address: opts.relayAddress } : { address: opts.relayAddress, fixed: true },
        ),
      );
      return;
    }
    const wanted = path.endsWith('/') ? `${path}index.html` : path;
    let body = await lookup(opts.files, wanted.slice(1));
    let type = TYPES[extname(wanted)] ?? 'application/octet-stream';
    if (body === undefined && extname(wanted) === '') {
      body = await lookup(opts.files, 'index.html'); // a single-page app
      type = TYPES['.html']!;
    }
    if (body === undefined) {
      res.writeHead(404, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': type });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
