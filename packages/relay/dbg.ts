import { SqliteQueueStore } from './src/sqlite-queue-store.ts';
import { SqliteFanoutStore } from './src/sqlite-fanout-store.ts';
import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
const s = new SqliteQueueStore({ path: mkdtempSync('/tmp/x') + '/db', maxQueueMessages: 100000, maxQueueBytes: 1e9, sealShared: (k, m, p) => p });
const f = new SqliteFanoutStore(s, { maxLists: 10, maxEntries: 5000, maxQueueMessages: 100000, maxQueueBytes: 1e9 });
const N = 1000;
const qs = [];
for (let i = 0; i < N; i++) {
  const q = { rid: randomBytes(24), sid: randomBytes(24), rk: randomBytes(32), sk: randomBytes(32), queueKey: randomBytes(32), created: 1 };
  s.createQueue(q); qs.push(q);
}
const lid = randomBytes(24);
await f.createList(lid, randomBytes(32), 1);
await f.addEntries(lid, qs.map((q) => q.sid), 1);
for (let round = 0; round < 5; round++) {
  let t = performance.now(); let c = process.cpuUsage();
  const r = await f.fanout(lid, { ts: 1, expires: 1e15, plaintext: randomBytes(270), newMids: (n) => randomBytes(16 * n) });
  let cu = process.cpuUsage(c);
  console.log('fanout', r.stored.length, 'wall', (performance.now() - t).toFixed(1), 'ms cpu', ((cu.user + cu.system) / 1000).toFixed(1), 'ms');
  t = performance.now(); c = process.cpuUsage();
  await Promise.all(r.stored.map((x) => s.deleteMessage(x.rid, x.mid)));
  cu = process.cpuUsage(c);
  console.log('delete x', N, 'wall', (performance.now() - t).toFixed(1), 'ms cpu', ((cu.user + cu.system) / 1000).toFixed(1), 'ms');
}
console.log(s.counts());
