/**
 * The relay's status (seed 000: "display the active user-proxy list on the website"):
 * `/status.json` for scripts and monitoring, `/status` as a page in Traditional Chinese (the
 * default) or English (`?lang=en`), the links drawn as an inline SVG graph, its stylesheet
 * at `/status.css`. No script, no external asset: it is served under the web client's CSP
 * (static-site.ts), which forbids inline styles, so colours are SVG attributes and the rest
 * is in the stylesheet. Counts only: no queue, no client address.
 */
import type { MeshStatus } from './mesh.ts';

export interface RelayStatus {
  relay: { fingerprint: string; address: string; version: string; protocol: number };
  uptime: number;
  /** Client connections open now and queues held. */
  users: number;
  queues: number;
  /** Where queues and messages are kept: SQLite in the data folder, or a shared PostgreSQL (decision 0047). */
  store?: 'sqlite' | 'postgres';
  /** Whether the relay hands out TURN credentials for calls (decision 0046). */
  turn: boolean;
  /** This process of the relay, one of several behind its address when they share a bus (decision 0049). */
  process?: { id: string; name: string };
  bus?: { kind: 'local' | 'redis'; connected: boolean; published: number; received: number };
  relays: MeshStatus['relays'];
  links: MeshStatus['links'];
  neighbours: string[];
  routes: MeshStatus['routes'];
  bridges: MeshStatus['bridges'];
  forwards: { held: number; forwarded: number; delivered: number };
}

const TEXT = {
  'zh-TW': {
    title: 'Parus 中繼站狀態',
    relay: '本中繼站',
    address: '位址',
    version: '版本',
    uptime: '運作時間',
    users: '連線中的使用者',
    queues: '佇列',
    turn: '通話轉送（TURN）',
    yes: '可用',
    no: '未設定',
    relays: '已知的中繼站',
    links: '連線',
    routes: '路由',
    to: '目的地',
    via: '下一站',
    hops: '跳數',
    path: '路徑',
    bridges: '橋（單點故障的連線）',
    none: '無',
    forwards: '轉送：保留中 {held}，已轉出 {forwarded}，已送達 {delivered}',
    seconds: '{n} 秒',
    reachable: '可達',
    unreachable: '不可達',
    other: 'English',
  },
  en: {
    title: 'Parus relay status',
    relay: 'This relay',
    address: 'Address',
    version: 'Version',
    uptime: 'Uptime',
    users: 'Users connected',
    queues: 'Queues',
    turn: 'Call relay (TURN)',
    yes: 'available',
    no: 'not set up',
    relays: 'Relays known',
    links: 'Links',
    routes: 'Routes',
    to: 'To',
    via: 'Next hop',
    hops: 'Hops',
    path: 'Path',
    bridges: 'Bridges (links whose loss splits the cloud)',
    none: 'none',
    forwards: 'Forwards: {held} held, {forwarded} sent on, {delivered} delivered here',
    seconds: '{n} s',
    reachable: 'reachable',
    unreachable: 'unreachable',
    other: '繁體中文',
  },
} as const;

export type StatusLanguage = keyof typeof TEXT;

export const STATUS_CSS = `body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222;background:#fafafa}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;font-size:.9rem}
code{font-size:.85rem;word-break:break-all}svg{background:#fff;border:1px solid #ccc;max-width:100%;height:auto}
.lang{float:right}
@media (prefers-color-scheme:dark){body{color:#ddd;background:#181818}svg{background:#222}}
`;

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function short(id: string): string {
  return `${id.slice(0, 8)}…`;
}

function fill(template: string, values: Record<string, number | string>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => String(values[k] ?? ''));
}

/** The links as a graph: relays on a circle, this one at the top, its routes' links highlighted. */
function graphSvg(s: RelayStatus): string {
  const ids = s.relays.map((r) => r.fingerprint);
  if (!ids.includes(s.relay.fingerprint)) ids.unshift(s.relay.fingerprint);
  const self = ids.indexOf(s.relay.fingerprint);
  const ordered = [...ids.slice(self), ...ids.slice(0, self)];
  const size = 420;
  const c = size / 2;
  const radius = ordered.length > 1 ? c - 60 : 0;
  const at = new Map<string, [number, number]>();
  ordered.forEach((id, i) => {
    const angle = (2 * Math.PI * i) / ordered.length - Math.PI / 2;
    at.set(id, [c + radius * Math.cos(angle), c + radius * Math.sin(angle)]);
  });
  const bridges = new Set(s.bridges.map((b) => `${b.from}|${b.to}`));
  const lines = s.links
    .map((l) => {
      const a = at.get(l.from);
      const b = at.get(l.to);
      if (!a || !b) return '';
      const bridge = bridges.has(`${l.from}|${l.to}`) || bridges.has(`${l.to}|${l.from}`);
      return `<line x1="${a[0].toFixed(1)}" y1="${a[1].toFixed(1)}" x2="${b[0].toFixed(1)}" y2="${b[1].toFixed(1)}" stroke="${bridge ? '#d33' : '#889'}" stroke-width="${bridge ? 3 : 2}"/>`;
    })
    .join('');
  const reachable = new Set(s.relays.filter((r) => r.reachable).map((r) => r.fingerprint));
  const nodes = ordered
    .map((id) => {
      const [x, y] = at.get(id)!;
      const me = id === s.relay.fingerprint;
      const colour = me ? '#2a7' : reachable.has(id) ? '#37c' : '#aaa';
      return `<g><circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="16" fill="${colour}"/><text x="${x.toFixed(1)}" y="${(y + 32).toFixed(1)}" text-anchor="middle" font-size="11" fill="#666">${escape(id.slice(0, 6))}</text><title>${escape(id)}</title></g>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="${size}" height="${size}" role="img">${lines}${nodes}</svg>`;
}

export function statusHtml(s: RelayStatus, lang: StatusLanguage): string {
  const t = TEXT[lang];
  const rows = (cells: string[][]): string =>
    cells.map((r) => `<tr>${r.map((x) => `<td>${x}</td>`).join('')}</tr>`).join('');
  const relays = s.relays.length
    ? `<table><tr><th>${t.relays}</th><th>${t.address}</th><th>${t.version}</th><th></th></tr>${rows(
        s.relays.map((r) => [
          `<code>${escape(r.fingerprint)}</code>`,
          `<code>${escape(r.addresses[0] ?? '')}</code>`,
          escape(r.version),
          r.reachable ? t.reachable : t.unreachable,
        ]),
      )}</table>`
    : `<p>${t.none}</p>`;
  const routes = s.routes.length
    ? `<table><tr><th>${t.to}</th><th>${t.via}</th><th>${t.hops}</th><th>${t.path}</th></tr>${rows(
        s.routes.map((r) => [
          `<code>${escape(short(r.to))}</code>`,
          `<code>${escape(short(r.nextHop))}</code>`,
          String(r.hops),
          r.path.map((p) => `<code>${escape(p.slice(0, 6))}</code>`).join(' → '),
        ]),
      )}</table>`
    : `<p>${t.none}</p>`;
  const bridges = s.bridges.length
    ? s.bridges
        .map((b) => `<code>${escape(short(b.from))}</code> — <code>${escape(short(b.to))}</code>`)
        .join('<br>')
    : t.none;
  const other = lang === 'en' ? '/status' : '/status?lang=en';
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t.title}</title><link rel="stylesheet" href="/status.css"></head><body>
<a class="lang" href="${other}">${t.other}</a>
<h1>${t.title}</h1>
<table>
<tr><th>${t.relay}</th><td><code>${escape(s.relay.fingerprint)}</code></td></tr>
<tr><th>${t.address}</th><td><code>${escape(s.relay.address)}</code></td></tr>
<tr><th>${t.version}</th><td>${escape(s.relay.version)}</td></tr>
<tr><th>${t.uptime}</th><td>${fill(t.seconds, { n: s.uptime })}</td></tr>
<tr><th>${t.users}</th><td>${s.users}</td></tr>
<tr><th>${t.queues}</th><td>${s.queues}</td></tr>
<tr><th>${t.turn}</th><td>${s.turn ? t.yes : t.no}</td></tr>
</table>
<h2>${t.links} (${s.links.length})</h2>
${graphSvg(s)}
<h2>${t.relays} (${s.relays.length})</h2>
${relays}
<h2>${t.routes}</h2>
${routes}
<h2>${t.bridges}</h2>
<p>${bridges}</p>
<p>${fill(t.forwards, s.forwards)}</p>
</body></html>
`;
}
