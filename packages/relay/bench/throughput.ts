/**
 * Relay throughput: `npx tsx packages/relay/bench/throughput.ts [senders] [messages each] [body bytes]`.
 * The relay runs in a child process on a temporary folder. Each sender pipelines signed
 * sends (64 in flight) to its own secured queue; one reader subscribes to every queue and
 * acks each message as it arrives. Prints a table; asserts nothing.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { decodeRelayFrame, generateSignKeyPair, initCrypto, systemRandom, toHex } from '@parus/core';
import type { RelayFrame } from '@parus/core';
import { Recipient, TestClient, sendFrame } from '../test/test-client.ts';

const senders = Number(process.argv[2] ?? 4);
const each = Number(process.argv[3] ?? 5_000);
const size = Number(process.argv[4] ?? 1_024);
const IN_FLIGHT = 64;

await initCrypto();
const dir = mkdtempSync(join(tmpdir(), 'parus-relay-bench-'));
const child = fork(fileURLToPath(new URL('./relay-process.ts', import.meta.url)), [dir], {
  execArgv: [
    '--import',
    'tsx',
    ...(process.env.RELAY_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.RELAY_PROF] : []),
  ],
});
const { address } = await new Promise<{ address: string }>((resolve) =>
  child.once('message', (m) => resolve(m as { address: string })),
);

/** Frames straight to a callback: the bench must not keep what it has handled. */
function onFrames(client: TestClient, handle: (f: RelayFrame) => void): void {
  client.ws.removeAllListeners('message');
  client.ws.on('message', (data: Buffer) => handle(decodeRelayFrame(new Uint8Array(data))));
}

const reader = await TestClient.connect(address);
const lanes = [];
for (let i = 0; i < senders; i++) {
  const q = new Recipient();
  const sk = generateSignKeyPair(systemRandom);
  await q.create(reader, sk);
  await q.sub(reader);
  lanes.push({ q, sk, client: await TestClient.connect(address) });
}
const byRid = new Map(lanes.map((l) => [toHex(l.q.rid), l.q]));
const total = senders * each;
const body = new Uint8Array(size);

let received = 0;
const start = performance.now();
const allReceived = new Promise<void>((resolve) =>
  onFrames(reader, (f) => {
    if (f.t !== 'msg') return;
    const q = byRid.get(toHex(f.rid))!;
    reader.sendFrame(reader.signed({ t: 'ack', rid: q.rid, mid: f.mid }, q.rk));
    if (++received === total) resolve();
  }),
);
const allSent = Promise.all(
  lanes.map(
    ({ q, sk, client }) =>
      new Promise<void>((resolve, reject) => {
        let sent = 0;
        let done = 0;
        const sendOne = (): void => {
          sent++;
          client.sendFrame(sendFrame(client, q.sid, body, sk));
        };
        onFrames(client, (f) => {
          if (f.t !== 'ok') return reject(new Error(`send failed: ${JSON.stringify(f)}`));
          if (++done === each) return resolve();
          if (sent < each) sendOne();
        });
        for (let i = 0; i < Math.min(IN_FLIGHT, each); i++) sendOne();
      }),
  ),
);
await allSent;
const sentAt = performance.now();
await allReceived;
const doneAt = performance.now();

child.send('close');
const { cpu } = await new Promise<{ cpu: NodeJS.CpuUsage }>((resolve) =>
  child.once('message', (m) => resolve(m as { cpu: NodeJS.CpuUsage })),
);
rmSync(dir, { recursive: true, force: true });

const seconds = (ms: number): string => (ms / 1000).toFixed(2);
const rows: Array<[string, string | number]> = [
  ['senders', senders],
  ['messages', total],
  ['body bytes', size],
  ['sends answered (s)', seconds(sentAt - start)],
  ['all delivered (s)', seconds(doneAt - start)],
  ['messages per s', Math.round(total / ((doneAt - start) / 1000))],
  ['relay CPU per msg (µs)', Math.round((cpu.user + cpu.system) / total)],
];
for (const [k, v] of rows) console.log(`${k.padEnd(24)} ${v}`);
