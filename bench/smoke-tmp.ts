import { initCrypto } from '@parus/core';
import { runFanout } from './fanout-bench.ts';
await initCrypto();
const n = Number(process.argv[2] ?? 10);
const targets = (process.argv[3] ?? 'broadcast,relay').split(',') as Array<'relay' | 'broadcast'>;
const profile = process.argv[4] === 'profile';
for (const target of targets) {
  const r = await runFanout({ target, recipients: n, window: 4, bodyBytes: 256, warmupMs: 1500, measureMs: 4000, drainMs: 20000, profile });
  console.log(JSON.stringify({ ...r, profile: undefined }));
  if (r.profile) { console.log(r.profile.activities.slice(0, 14)); console.log(r.profile.functions.slice(0, 16)); }
}
