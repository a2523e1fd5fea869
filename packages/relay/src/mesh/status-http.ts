/**
 * `/status`, `/status.json` and `/status.css` (status-page.ts), served under the web client's
 * Content-Security-Policy. Anything else is left to the server's other routes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WEB_CSP } from '../static-site.ts';
import { STATUS_CSS, statusHtml } from './status-page.ts';
import type { RelayStatus } from './status-page.ts';

/** Answers the request if it is for the status; false otherwise. */
export function serveStatus(req: IncomingMessage, res: ServerResponse, status: () => RelayStatus): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://relay.invalid');
  } catch {
    return false;
  }
  let body: string;
  let type: string;
  switch (url.pathname) {
    case '/status.json':
      body = JSON.stringify(status());
      type = 'application/json; charset=utf-8';
      break;
    case '/status':
      body = statusHtml(status(), url.searchParams.get('lang') === 'en' ? 'en' : 'zh-TW');
      type = 'text/html; charset=utf-8';
      break;
    case '/status.css':
      body = STATUS_CSS;
      type = 'text/css; charset=utf-8';
      break;
    default:
      return false;
  }
  res.writeHead(200, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'content-security-policy': WEB_CSP,
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
