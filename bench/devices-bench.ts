/**
 * Linking a device with history (docs/decisions/0041): the time and the bytes to link a new
 * device to an account whose 1:1 history holds 0, 1,000 and 10,000 messages, all carried
 * (`--history all`). Real accounts (in-memory stores) and a real relay on loopback in this
 * process; both sides run the same flows as `parus init --link` / `parus device link`
 * (client device-linking.ts) over the relay: handshake, short code, the snapshot as 128 KiB
 * secretstream frames, the new device's restore and its `add` op back.
 *
 * The history is written into Alice's store as the engine stores messages (records of a real
 * contact, texts of 20 to 80 characters, alternating directions, one DAG chain), not sent
 * through the relay first: the link reads records, whoever wrote them. The account key uses
 * libsodium's least Argon2id cost so that the passphrase's derivation (a constant) does not
 * hide the figures. Wall and CPU times (the process's user + system) are given; the machine is
 * shared, so CPU time is the steadier figure.
 *
 * Then the sender's cost of a 1:1 message as the contact has 1, 2 and 5 devices (one session
 * per device pair, decision 0038): CPU and bytes per message.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { initCrypto, systemRandom, toHex } from '@parus/core';
import { Account, MemoryStore, answerDeviceLink, offerDeviceLink, type Transport } from '@parus/client';
import { nodeTransport } from '@parus/client/node';
import { startRelay } from '@parus/relay';
import { encodeRecord, type MessageRecord } from '../packages/client/src/records.ts';
import { writeSection, type SectionMarkers } from './doc-sections.ts';
import { describeMachine, type Machine } from './machine.ts';

export const HISTORY_SIZES = [0, 1_000, 10_000];
const PASS = 'bench passphrase';
const LIGHT = { opsLimit: 1, memLimit: 8192 };

const MARKERS: SectionMarkers = {
  start: '<!-- devices benchmark: start -->',
  end: '<!-- devices benchmark: end -->',
  before: '## Double Ratchet',
};

export interface DevicesRow {
  messages: number;
  /** The snapshot's encoded size. */
  snapshotBytes: number;
  /** Bytes the answering device sent through the relay (frames as sent). */
  linkBytes: number;
  frames: number;
  /** From the answer to the new device's `add` op appended, after both confirmed. */
  wallMs: number;
  cpuMs: number;
  /** Of which: the new device writing the account and its history. */
  restoreMs: number;
}

export interface DevicesReport {
  machine: Machine;
  elapsedMs: number;
  rows: DevicesRow[];
  /** The sender's cost of one 1:1 message as the contact has 1, 2 and 5 devices. */
  senders: SenderRow[];
}

export interface SenderRow {
  devices: number;
  /** CPU per message, µs: the sender and the relay (the only ones running, in this process). */
  cpuUs: number;
  /** Wall time per message, ms. */
  wallMs: number;
  /** Bytes the sender wrote to its relay connection per message. */
  bytes: number;
}

export const RECIPIENT_DEVICES = [1, 2, 5];
const SENDS = 100;

/**
 * Alice sends SENDS messages to Bob, who has `n` devices (the first, and n - 1 restored from
 * its snapshot and introduced to her, decision 0038); only Alice and the relay run while they go
 * out (Bob's devices are not started), so the process's CPU time is theirs: encrypting once per
 * device (one session per device pair), sending each copy to that device's queue, storing it.
 */
async function senderCost(relayAddress: string, n: number): Promise<SenderRow> {
  const counter = { bytes: 0, frames: 0 };
  const open: Account[] = [];
  const make = async (name: string, transport: Transport = nodeTransport()): Promise<Account> => {
    const a = await Account.create({ store: new MemoryStore(), transport, name, relay: relayAddress });
    open.push(a);
    return a;
  };
  try {
    const alice = await make('Alice', countingTransport(counter));
    const bob = await make('Bob');
    await bob.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'bob 1' });
    const { link } = await alice.createInvite();
    await bob.acceptInvite(link, { alias: 'alice' });
    for (const a of [bob, alice, bob, alice]) await a.sync();
    // Each new device is restored from the newest one, whose device set toward Alice names
    // every device so far (two restored from one snapshot would each extend the same set).
    let newest = bob;
    for (let i = 1; i < n; i++) {
      const device = await make('Bob');
      await device.restoreSnapshot(await newest.snapshot(), { passphrase: PASS, deviceName: `bob ${i + 1}` });
      await device.sync();
      for (const a of [alice, device, alice]) await a.sync();
      newest = device;
    }
    const seen = alice.contactDeviceList('Bob').length;
    if (seen !== n) throw new Error(`Alice sees ${seen} of Bob's ${n} devices`);
    await alice.sendText('Bob', 'warm-up');
    await alice.sync();
    counter.bytes = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < SENDS; i++) await alice.sendText('Bob', text(i));
    await alice.sync();
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return {
      devices: n,
      cpuUs: (cpu.user + cpu.system) / SENDS,
      wallMs: wall / SENDS,
      bytes: counter.bytes / SENDS,
    };
  } finally {
    for (const a of open) await a.close();
  }
}

const WORDS = [
  '你好',
  '今天',
  'meeting',
  '晚上吃什麼',
  'ok',
  '明天見',
  'photos',
  '謝謝',
  'see you',
  '會議記錄',
];

function text(i: number): string {
  let s = `${i}`;
  while (s.length < 20 + (i % 61)) s += ` ${WORDS[(i * 7 + s.length) % WORDS.length]}`;
  return s;
}

/** `n` messages of one conversation, written as the engine stores them. */
async function writeHistory(store: MemoryStore, contact: Uint8Array, n: number, now: number): Promise<void> {
  let parent: Uint8Array | undefined;
  const ops = [];
  for (let i = 0; i < n; i++) {
    const id = systemRandom.bytes(32);
    const out = i % 2 === 0;
    const r: MessageRecord = {
      id,
      contact,
      dir: out ? 'out' : 'in',
      kind: 'text',
      text: text(i),
      parents: parent ? [parent] : [],
      lamport: i,
      ts: now - (n - i) * 60_000,
      received: now - (n - i) * 60_000,
      status: out ? 'read' : 'received',
      shown: true,
      envelope: systemRandom.bytes(300 + (i % 61) * 3), // stored, never carried
    };
    parent = id;
    ops.push({
      type: 'put' as const,
      collection: `msg.${toHex(contact)}`,
      key: toHex(id),
      value: encodeRecord(r),
    });
  }
  for (let i = 0; i < ops.length; i += 1000) await store.batch(ops.slice(i, i + 1000));
}

/** Counts what the answering side sends through its relay connection. */
function countingTransport(counter: { bytes: number; frames: number }): Transport {
  const inner = nodeTransport();
  return {
    async connect(url, signal) {
      const c = await inner.connect(url, signal);
      const send = c.send.bind(c);
      c.send = (data: Uint8Array) => {
        counter.bytes += data.length;
        counter.frames += 1;
        send(data);
      };
      return c;
    },
  };
}

export async function benchDevices(log: (line: string) => void): Promise<DevicesReport> {
  const started = performance.now();
  await initCrypto();
  const machine = await describeMachine();
  const dataDir = await mkdtemp(join(tmpdir(), 'parus-devices-bench-'));
  const relay = await startRelay({ host: '127.0.0.1', port: 0, dataDir });
  const rows: DevicesRow[] = [];
  const senders: SenderRow[] = [];
  const open: Account[] = [];
  const make = async (name: string, store = new MemoryStore()): Promise<Account> => {
    const a = await Account.create({ store, transport: nodeTransport(), name, relay: relay.address });
    open.push(a);
    return a;
  };
  try {
    for (const size of HISTORY_SIZES) {
      const aliceStore = new MemoryStore();
      const alice = await make('Alice', aliceStore);
      const bob = await make('Bob');
      const { link: invite } = await alice.createInvite();
      await bob.acceptInvite(invite, { alias: 'alice' });
      await bob.sync();
      await alice.sync();
      const contactId = (alice as unknown as { contactsById: Map<string, { id: Uint8Array }> }).contactsById
        .values()
        .next().value!.id;
      await writeHistory(aliceStore, contactId, size, Date.now());
      await alice.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });

      const counter = { bytes: 0, frames: 0 };
      let link: (value: string) => void = () => undefined;
      const linkShown = new Promise<string>((resolve) => (link = resolve));
      let restoreMs = 0;
      let snapshotBytes = 0;
      const offered = offerDeviceLink({
        relay: relay.address,
        name: 'phone',
        transport: nodeTransport(),
        rng: systemRandom,
        onLink: (l) => link(l),
        confirm: async () => true,
        onBytes: (b) => (snapshotBytes = b),
        adopt: async (snapshot) => {
          const t = performance.now();
          const phone = await make('Alice');
          await phone.restoreSnapshot(snapshot, { passphrase: PASS, deviceName: 'phone' });
          restoreMs = performance.now() - t;
          const shown = (await phone.restoredHistory(alice.contacts()[0]!.alias)).length;
          if (shown !== size) throw new Error(`the phone shows ${shown} of ${size} messages`);
          return { op: await phone.devices.lastOp(), result: undefined };
        },
      });
      const l = await linkShown;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const answered = await answerDeviceLink({
        account: alice,
        link: l,
        history: 'all',
        transport: countingTransport(counter),
        rng: systemRandom,
        confirm: async () => true,
      });
      await offered;
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      if (answered.messages !== size)
        throw new Error(`${answered.messages} of ${size} messages were carried`);
      const row: DevicesRow = {
        messages: size,
        snapshotBytes,
        linkBytes: counter.bytes,
        frames: counter.frames,
        wallMs,
        cpuMs: (cpu.user + cpu.system) / 1000,
        restoreMs,
      };
      rows.push(row);
      log(
        `link with ${size} messages: ${(snapshotBytes / 1024).toFixed(0)} KiB snapshot, ${(counter.bytes / 1024).toFixed(0)} KiB sent in ${counter.frames} frames, ` +
          `${wallMs.toFixed(0)} ms wall, ${row.cpuMs.toFixed(0)} ms CPU (restore ${restoreMs.toFixed(0)} ms)`,
      );
      for (const a of open.splice(0)) await a.close();
    }
    for (const n of RECIPIENT_DEVICES) {
      const row = await senderCost(relay.address, n);
      senders.push(row);
      log(
        `a 1:1 message to a contact with ${n} devices: ${row.cpuUs.toFixed(0)} µs CPU, ${row.wallMs.toFixed(2)} ms wall, ${row.bytes.toFixed(0)} bytes sent`,
      );
    }
  } finally {
    for (const a of open) await a.close();
    await relay.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  return { machine, elapsedMs: performance.now() - started, rows, senders };
}

export function renderDevicesSection(r: DevicesReport): string {
  const kib = (b: number): string => (b / 1024).toLocaleString('en-US', { maximumFractionDigits: 0 });
  const last = r.rows.at(-1)!;
  return [
    MARKERS.start,
    '## Linking a device with history',
    '',
    `_Generated by \`npm run bench -- --only devices\` (bench/devices-bench.ts) on ${r.machine.date} in ${Math.round(r.elapsedMs / 1000)} s, ` +
      `on ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}; shared machine, wall times noisy, CPU time (both devices, one process) steadier._`,
    '',
    'Alice links a new device with `--history all` through a relay on loopback, both sides in one process (client device-linking.ts, as `parus device link` and `parus init --link` run it): ' +
      'handshake, short code (confirmed at once), the account snapshot as 128 KiB secretstream frames, the new device writing the account and its history, its `add` op back. ' +
      'The history is one conversation of N text messages of 20 to 80 characters, written into her store as the engine stores them; the account key uses the least Argon2id cost. ' +
      '_Sent_ counts the bytes the answering device wrote to its relay connection.',
    '',
    '| messages | snapshot, KiB | sent, KiB | frames | link, ms | CPU, ms | restore, ms |',
    '| --: | --: | --: | --: | --: | --: | --: |',
    ...r.rows.map(
      (row) =>
        `| ${row.messages.toLocaleString('en-US')} | ${kib(row.snapshotBytes)} | ${kib(row.linkBytes)} | ${row.frames} | ${row.wallMs.toFixed(0)} | ${row.cpuMs.toFixed(0)} | ${row.restoreMs.toFixed(0)} |`,
    ),
    '',
    `With ${last.messages.toLocaleString('en-US')} messages the snapshot is ${kib(last.snapshotBytes)} KiB (${(last.snapshotBytes / Math.max(1, last.messages)).toFixed(0)} bytes a message).`,
    '',
    '### The sender’s cost of a 1:1 message, by the contact’s devices',
    '',
    `Alice sends ${SENDS} texts to Bob, whose devices are the first and others restored from its snapshot and introduced to her (decision 0038); the message is encrypted once per device, each with its own Double Ratchet session, and each copy goes to that device’s queue. ` +
      'Only Alice and the relay (in the same process) run while they go out, so the CPU time is theirs (send, encrypt, upload, the relay storing every copy, until it answered each); _bytes_ are what she wrote to her relay connection.',
    '',
    '| recipient devices | CPU per message, µs | wall per message, ms | bytes sent per message |',
    '| --: | --: | --: | --: |',
    ...r.senders.map(
      (row) =>
        `| ${row.devices} | ${row.cpuUs.toFixed(0)} | ${row.wallMs.toFixed(2)} | ${row.bytes.toFixed(0)} |`,
    ),
    '',
    MARKERS.end,
  ].join('\n');
}

/** `--only devices`: run this benchmark alone, update its section, end with a JSON line. */
export async function devicesOnly(log: (line: string) => void): Promise<void> {
  const report = await benchDevices(log);
  await writeSection(MARKERS, renderDevicesSection(report));
  log('wrote the devices section of docs/BENCHMARKS.md');
  console.log(JSON.stringify({ devices: report.rows, senders: report.senders }));
}
