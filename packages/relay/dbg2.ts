import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SqliteQueueStore } from './src/sqlite-queue-store.ts';
const path = mkdtempSync('/tmp/x') + '/db';
const s = new SqliteQueueStore({ path, maxQueueMessages: 100000, maxQueueBytes: 1e9 });
const N = 1000;
const qs = [];
for (let i = 0; i < N; i++) { const q = { rid: randomBytes(24), sid: randomBytes(24), rk: randomBytes(32), sk: randomBytes(32), queueKey: randomBytes(32), created: 1 }; s.createQueue(q); qs.push(q); }
await s.flush();
const db = s.database;
const claimNamed = db.prepare('UPDATE queues SET msg_count = msg_count + 1, msg_bytes = msg_bytes + @size WHERE sid = @sid AND sk IS NOT NULL AND msg_count < @maxCount AND msg_bytes + @size <= @maxBytes RETURNING rid, qkey');
const claimPos = db.prepare('UPDATE queues SET msg_count = msg_count + 1, msg_bytes = msg_bytes + ? WHERE sid = ? AND sk IS NOT NULL AND msg_count < ? AND msg_bytes + ? <= ? RETURNING rid, qkey');
const claimNoRet = db.prepare('UPDATE queues SET msg_count = msg_count + 1, msg_bytes = msg_bytes + ? WHERE sid = ? AND sk IS NOT NULL AND msg_count < ? AND msg_bytes + ? <= ?');
const ins = db.prepare("INSERT INTO messages (rid, mid, ts, expires, body, bid) VALUES (?, ?, ?, ?, x'', ?) RETURNING seq");
const insRun = db.prepare("INSERT INTO messages (rid, mid, ts, expires, body, bid) VALUES (?, ?, ?, ?, x'', ?)");
function time(name: string, f: () => void) {
  const t = performance.now();
  db.transaction(f)();
  console.log(name, ((performance.now() - t) * 1000 / N).toFixed(2), 'µs/op');
}
for (let r = 0; r < 2; r++) {
time('claim named', () => { const o = { size: 1, sid: qs[0]!.sid, maxCount: 1e9, maxBytes: 1e12 }; for (const q of qs) { o.sid = q.sid; claimNamed.get(o); } });
time('claim positional', () => { for (const q of qs) claimPos.get(1, q.sid, 1e9, 1, 1e12); });
time('claim no returning', () => { for (const q of qs) claimNoRet.run(1, q.sid, 1e9, 1, 1e12); });
const mids = randomBytes(16 * N);
time('insert returning', () => { let i = 0; for (const q of qs) { ins.get(q.rid, mids.subarray(16 * i, 16 * i + 16), 1, 1e15, 1); i++; } });
const mids2 = randomBytes(16 * N);
time('insert run', () => { let i = 0; for (const q of qs) { insRun.run(q.rid, mids2.subarray(16 * i, 16 * i + 16), 1, 1e15, 1); i++; } });
const mids3 = randomBytes(16 * N);
time('insert run Buffer copies', () => { let i = 0; for (const q of qs) { insRun.run(q.rid, Buffer.from(mids3.subarray(16 * i, 16 * i + 16)), 1, 1e15, 1); i++; } });
}
let t = performance.now();
for (let i = 0; i < 20; i++) db.transaction(() => claimNoRet.run(1, qs[i]!.sid, 1e9, 1, 1e12))();
console.log('commit (fsync) each', ((performance.now() - t) / 20).toFixed(2), 'ms');
