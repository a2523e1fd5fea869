/**
 * The relay address the web client offers for a new account (decision 0044). The relay that
 * served the page says its address at /api/relay, but behind a reverse proxy or a port forward
 * the host and port it knows itself by are not the ones the browser reached it through: the
 * address keeps the relay's fingerprint (which authenticates it whatever the path) and takes the
 * host and port from the page's own location, with TLS when the page came over https.
 */

const ADDRESS =
  /^parus:\/\/([A-Za-z0-9_-]{43})@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})(\?transport=wss?)?$/;

export interface PageLocation {
  protocol: string;
  hostname: string;
  port: string;
}

/**
 * `answer` (the relay's own address) as reached from `page`; `answer` itself when the page
 * location has no usable host (a file: page) or the answer is not an address.
 */
export function relayForPage(answer: string, page: PageLocation): string {
  const m = ADDRESS.exec(answer);
  if (!m) return answer;
  const tls = page.protocol === 'https:';
  if (!tls && page.protocol !== 'http:') return answer;
  const host = page.hostname;
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253})$/.test(host)) return answer;
  const port = page.port !== '' ? page.port : tls ? '443' : '80';
  return `parus://${m[1]}@${host}:${port}${tls ? '?transport=wss' : ''}`;
}
