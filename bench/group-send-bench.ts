/**
 * Group send benchmark (issue 4 §9, docs/decisions/0012 "Delivery"): the cost of one group
 * message to groups of 10, 100 and 1,000 members, measured through the real account engine
 * (Account.groups.send, then the outbox flush that uploads it by relay fan-out), against a
 * real relay in its own process, with every member's queue subscribed and acking in a third.
 *
 * How the group is built: introductions between 1,000 accounts would take hours, so the
 * sender's store is set up directly with the engine's own records — a contact (group peer)
 * per member whose send queue is a real, secured queue on the relay (made by the recipients
 * process), a ratchet session, and the group's signed events (create, then an invite by the
 * sender and a join by each member). The engine then opens that store as it would any other.
 * The members are not accounts: nobody sends delivery receipts back, so between messages
 * (outside the measured send time) the bench hands the engine one delivery receipt per member,
 * through the path a receipt from the wire takes (GroupEngine.receive of a `rcpt` payload
 * under the account's lock, then one store batch), and times that apart.
 *
 * Measured per message: sender CPU (process.cpuUsage over send + flush), bytes uploaded (a
 * counting transport), and the copies the recipients got per second while the sender sent
 * one message after the other (so bounded by the sender's round trip, not the relay).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import {
  createGroup,
  createGroupEvent,
  encodeCbor,
  encodeGroupEvent,
  encodeRatchetState,
  fromHex,
  generateDhKeyPair,
  generateSignKeyPair,
  initCrypto,
  initRatchetSender,
  systemRandom,
  toHex,
  type CborMap,
  type GroupEvent,
} from '@parus/core';
import { Account, MemoryStore } from '@parus/client';
import type { Store, StoreOp, Transport } from '@parus/client';
import { nodeTransport } from '@parus/client/node';
import type { FanoutRecipientsConfig, RecipientsCommand, RecipientsMessage } from './fanout-recipients.ts';
import { BENCHMARKS_FILE, spliceSection, writeSection, type SectionMarkers } from './doc-sections.ts';
import type { ServerCommand, ServerMessage } from './ipc.ts';
import { describeMachine } from './machine.ts';
import type { Machine } from './machine.ts';
import { Child } from './fanout-bench.ts';

const SERVER_SCRIPT = fileURLToPath(new URL('./server-process.ts', import.meta.url));
const RECIPIENTS_SCRIPT = fileURLToPath(new URL('./fanout-recipients.ts', import.meta.url));

export const GROUP_SEND_SECTION_START = '<!-- group send benchmark: start -->';
export const GROUP_SEND_SECTION_END = '<!-- group send benchmark: end -->';
export const GROUP_SEND_SIZES = (process.env.PARUS_GROUPSEND_SIZES ?? '10,100,1000').split(',').map(Number);
const WARMUP_MESSAGES = 5;
const MESSAGES = 100;
const TEXT = 'x'.repeat(200);

/**
 * The figures of this bench (40 messages, mean) before the message index and per-member receipt
 * records, measured on 2026-12-02 on the same quiet machine as the run that follows them.
 */
const BEFORE = {
  date: '2026-12-02',
  runs: [
    { members: 10, cpuUs: 4609, receiptUs: 274 },
    { members: 100, cpuUs: 5765, receiptUs: 304 },
    { members: 1000, cpuUs: 16616, receiptUs: 669 },
  ],
};

/** What the measurements showed, and what was changed for them (kept beside the code that prints them). */
const GROUP_SEND_FINDINGS =
  'What grew with the group before (profiled at 1,000 members): `groups.send` read and decoded every stored message of the group to find the DAG heads and the next Lamport clock, and each sent message named every member who had confirmed it (a 32-byte key each), so that read cost history × members; every message re-encoded the group record (a link per member, 56 KB at 1,000) to store the moved sender chain; every change copied the group’s map of state events (two per member) to be able to roll back; and each receipt decoded and re-encoded its message with its member list. Now the engine keeps each group’s heads, clocks and author times in memory (message-index.ts, on core’s DagFrontier), receipts are one small record per message and member with counts in the message (message-receipts.ts), the sender chain is its own record, and the events map is copied only when events are added (state changes, not messages). What is left per member is a few bit operations per message in the flush (who still waits, who the upload reached), and, by design, the chain replacement every 100 messages (Sender Keys, issue 4 §3): that message sends the new sender key over every member’s 1:1 session (the `send` frames per message above: one per member every 100 messages), so the mean over 100 messages carries one hundredth of an O(members) step; the median and the mean without replacements are the per-message cost. Copies per second here are bounded by one message at a time waiting for its `fsent`; the relay’s own fan-out rate is in "Group fan-out".';

export interface GroupSendResult {
  members: number;
  setupMs: number;
  messages: number;
  cpuUsPerMessage: number;
  bytesPerMessage: number;
  fsendsPerMessage: number;
  sendsPerMessage: number;
  copiesPerSecond: number;
  /** Sender CPU of the median message (the mean above is more exposed to a noisy neighbour). */
  cpuUsMedian: number;
  /** Mean over the messages that replaced no chain (the steady state), and over those that did. */
  cpuUsSteady: number;
  cpuUsRotation: number;
  rotations: number;
  /** Handling one member's delivery receipt (mean over every receipt of the measured messages). */
  receiptUs: number;
  check: string;
}

export interface GroupSendReport {
  machine: Machine;
  runs: GroupSendResult[];
  elapsedMs: number;
}

class KeptStore extends MemoryStore {
  override async close(): Promise<void> {}
}

function counting(inner: Transport, c: { bytes: number }): Transport {
  return {
    async connect(url, signal) {
      const conn = await inner.connect(url, signal);
      return {
        send: (data) => {
          c.bytes += data.length;
          conn.send(data);
        },
        close: () => conn.close(),
        onMessage: (h) => conn.onMessage(h),
        onClose: (h) => conn.onClose(h),
      };
    },
  };
}

/** Writes a joined group with `entries.length` members, each a group peer of ours, into `store`. */
async function seedGroup(
  store: MemoryStore,
  relay: string,
  entries: Array<{ sid: string; sk: string }>,
): Promise<string> {
  const rng = systemRandom;
  const now = Date.now();
  const me = generateSignKeyPair(rng);
  const create = createGroup({ author: me, name: `bench ${entries.length}`, ts: now, rng });
  const g = create.group;
  const events: GroupEvent[] = [create];
  const links: Array<{ m: Uint8Array; c: Uint8Array }> = [];
  let last: GroupEvent = create;
  const ops: StoreOp[] = [];
  const recvRid = rng.bytes(24);
  for (const [i, e] of entries.entries()) {
    const member = generateSignKeyPair(rng);
    const invite: GroupEvent = createGroupEvent({
      author: me,
      group: g,
      parents: [last.id],
      lamport: last.lamport + 1,
      ts: now,
      type: 'invite',
      content: { member: member.publicKey },
    });
    const join: GroupEvent = createGroupEvent({
      author: member,
      group: g,
      parents: [invite.id],
      lamport: invite.lamport + 1,
      ts: now,
      type: 'join',
      content: {},
    });
    events.push(invite, join);
    last = join;
    const id = rng.bytes(16);
    links.push({ m: member.publicKey, c: id });
    const session = initRatchetSender({
      sharedSecret: rng.bytes(32),
      peerRatchetKey: generateDhKeyPair(rng).publicKey,
      sharedHeaderKey: rng.bytes(32),
      nextHeaderKey: rng.bytes(32),
      rng,
    });
    const contact = {
      id,
      alias: `member-${i}`,
      name: `member ${i}`,
      state: 'unvalidated',
      status: 'active',
      identity: generateSignKeyPair(rng).secretKey,
      theirIdentity: generateSignKeyPair(rng).publicKey,
      conv: rng.bytes(16),
      ad: rng.bytes(64),
      // Nothing comes back in this bench: one placeholder inbound queue, never created.
      recv: { relay, rid: recvRid, sid: rng.bytes(24), rk: rng.bytes(32), key: rng.bytes(32), secured: true },
      send: { relay, sid: fromHex(e.sid) },
      senderKey: fromHex(e.sk),
      device: member.publicKey,
      session: encodeRatchetState(session),
      created: now,
      peer: g,
    };
    ops.push({ type: 'put', collection: 'contacts', key: toHex(id), value: cbor(contact) });
  }
  for (const e of events)
    ops.push({ type: 'put', collection: `gev.${toHex(g)}`, key: toHex(e.id), value: encodeGroupEvent(e) });
  const rec = {
    id: g,
    status: 'joined',
    name: `bench ${entries.length}`,
    me: me.secretKey,
    links,
    invitees: [],
    intros: [],
    accept: [],
    forwards: [],
    chainAt: 0,
    rotate: false,
    created: now,
  };
  ops.push({ type: 'put', collection: 'groups', key: toHex(g), value: cbor(rec) });
  await store.batch(ops);
  return toHex(g);
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** The client's record codec (records.ts encodeRecord) is plain canonical CBOR. */
function cbor(v: object): Uint8Array {
  return encodeCbor(v as CborMap);
}

export async function runGroupSend(members: number): Promise<GroupSendResult> {
  const server = new Child<ServerMessage, ServerCommand>(
    fork(SERVER_SCRIPT, ['relay', '{}'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    'relay server',
  );
  let recipients: Child<RecipientsMessage, RecipientsCommand> | undefined;
  let account: Account | undefined;
  try {
    const { address } = await server.next('listening', 30_000);
    const cfg: FanoutRecipientsConfig = {
      target: 'relay',
      address,
      recipients: members,
      group: toHex(systemRandom.bytes(16)),
      setupConcurrency: 32,
      rawTimeOffset: 0,
      ack: true,
      subscribe: true,
    };
    recipients = new Child<RecipientsMessage, RecipientsCommand>(
      fork(RECIPIENTS_SCRIPT, [JSON.stringify(cfg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
      'recipients',
    );
    const setupStart = performance.now();
    const ready = await recipients.next('ready', 300_000);
    const store = new KeptStore();
    const created = await Account.create({
      store,
      transport: nodeTransport(),
      name: 'Sender',
      relay: address,
    });
    await created.close();
    const g = await seedGroup(store, address, ready.entries);
    const wire = { bytes: 0 };
    const frames = { fsend: 0, send: 0 };
    const transport = counting(nodeTransport(), wire);
    account = await Account.open({
      store,
      transport: {
        async connect(url, signal) {
          const conn = await transport.connect(url, signal);
          return {
            ...conn,
            send: (data: Uint8Array) => {
              // The frame type is the CBOR map's `t`: cheap enough to spot without decoding.
              const s = Buffer.from(data.subarray(0, 24)).toString('latin1');
              if (s.includes('efsend')) frames.fsend++;
              else if (s.includes('dsend')) frames.send++;
              conn.send(data);
            },
          };
        },
      },
    });
    await account.start();
    const setupMs = performance.now() - setupStart;
    // The engine's own receipt path, as DirectReceiving.receiveFromContact takes it for a `group`
    // envelope: each member's receipt is one payload, read under the lock and stored in one batch.
    const inner = account as unknown as {
      store: Store;
      lock: { run<T>(fn: () => Promise<T>): Promise<T> };
      contactsById: Map<string, unknown>;
    };
    const peers = [...inner.contactsById.values()] as Array<Parameters<Account['groups']['receive']>[0]>;
    const receipts = { us: 0, n: 0 };
    const dropSettled = async (id: string, timed: boolean): Promise<void> => {
      const rcpt = { t: 'rcpt', g: fromHex(g), s: 'd', ids: [fromHex(id)] } as CborMap;
      const t0 = performance.now();
      for (const c of peers) {
        await inner.lock.run(async () => {
          const ops: StoreOp[] = [];
          const after: Array<() => void> = [];
          await account!.groups.receive(c, rcpt, ops, after);
          await inner.store.batch(ops);
          for (const f of after) f();
        });
      }
      if (timed) {
        receipts.us += (performance.now() - t0) * 1000;
        receipts.n += peers.length;
      }
      const left = await account!.outboxSize();
      if (left.queued + left.relayed > 0)
        throw new Error(`receipts left ${JSON.stringify(left)} in the outbox`);
    };
    for (let i = 0; i < WARMUP_MESSAGES; i++) {
      const sent = await account.groups.send(g, TEXT);
      // The first flushes may come before the connection is up: wait until all is out.
      for (let tries = 0; (await account.outboxSize()).queued > 0; tries++) {
        if (tries > 600) throw new Error('the warm-up messages did not go out');
        await account.flush();
        await new Promise((r) => setTimeout(r, 50));
      }
      // The first message's sender key went over every 1:1 session: those entries are not part
      // of a group send; they are dropped with the receipts they wait for (they are plain entries).
      await inner.lock.run(async () => {
        const outbox = await inner.store.list('outbox');
        await inner.store.batch(
          outbox.map(({ key }) => ({ type: 'del' as const, collection: 'outbox', key })),
        );
      });
      await dropSettled(sent.id, false);
    }
    recipients.send({ type: 'mark-start' });
    let cpuUs = 0;
    const perMessage: number[] = [];
    const steady: number[] = [];
    const rotation: number[] = [];
    const bytes0 = wire.bytes;
    const f0 = { ...frames };
    const wall0 = performance.now();
    for (let i = 0; i < MESSAGES; i++) {
      const sendsBefore = frames.send;
      const c0 = process.cpuUsage();
      const sent = await account.groups.send(g, TEXT);
      await account.flush();
      const c1 = process.cpuUsage(c0);
      cpuUs += c1.user + c1.system;
      perMessage.push(c1.user + c1.system);
      // A message that replaced the chain (every 100 messages) sent the new sender key over each
      // member's 1:1 session: those `send` frames mark it.
      (frames.send > sendsBefore ? rotation : steady).push(c1.user + c1.system);
      await dropSettled(sent.id, true);
    }
    const bytes = wire.bytes - bytes0;
    // Let the last copies arrive before closing the window.
    await new Promise((r) => setTimeout(r, 500));
    recipients.send({ type: 'mark-end' });
    const window = await recipients.next('window', 60_000);
    // Copies per second over the sending time: the receipt handling between sends is left out.
    const wallS = (performance.now() - wall0 - receipts.us / 1000) / 1000;
    const expected = (WARMUP_MESSAGES + MESSAGES) * members;
    recipients.send({ type: 'stop', expected });
    const stopped = await recipients.next('stopped', 60_000);
    const errors = Object.entries(stopped.errors);
    const check =
      stopped.received >= expected && errors.length === 0
        ? `all ${stopped.received} copies arrived`
        : `received ${stopped.received} of ${expected}, errors ${JSON.stringify(stopped.errors)}`;
    return {
      members,
      setupMs,
      messages: MESSAGES,
      cpuUsPerMessage: cpuUs / MESSAGES,
      cpuUsMedian: perMessage.sort((a, b) => a - b)[Math.floor(perMessage.length / 2)]!,
      cpuUsSteady: mean(steady),
      cpuUsRotation: mean(rotation),
      rotations: rotation.length,
      bytesPerMessage: bytes / MESSAGES,
      fsendsPerMessage: (frames.fsend - f0.fsend) / MESSAGES,
      sendsPerMessage: (frames.send - f0.send) / MESSAGES,
      copiesPerSecond: window.delivered / wallS,
      receiptUs: receipts.us / Math.max(1, receipts.n),
      check,
    };
  } finally {
    await account?.close().catch(() => undefined);
    recipients?.kill();
    server.send({ type: 'stop' });
    await new Promise((r) => setTimeout(r, 200));
    server.kill();
  }
}

export async function benchGroupSend(log: (line: string) => void): Promise<GroupSendReport> {
  await initCrypto();
  const started = performance.now();
  const machine = await describeMachine();
  const runs: GroupSendResult[] = [];
  for (const n of GROUP_SEND_SIZES) {
    const r = await runGroupSend(n);
    runs.push(r);
    log(
      `group send to ${n}: ${r.cpuUsPerMessage.toFixed(0)} µs CPU (median ${r.cpuUsMedian.toFixed(0)}, steady ${r.cpuUsSteady.toFixed(0)}, ${r.rotations} chain replaced at ${r.cpuUsRotation.toFixed(0)}) and ${Math.round(r.bytesPerMessage)} B per message, ` +
        `${r.fsendsPerMessage} fsend and ${r.sendsPerMessage} send per message, ${Math.round(r.copiesPerSecond)} copies/s, ${r.receiptUs.toFixed(0)} µs per receipt; ${r.check}`,
    );
  }
  return { machine, runs, elapsedMs: performance.now() - started };
}

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

export function renderGroupSendSection(r: GroupSendReport): string {
  const lines: string[] = [];
  lines.push(GROUP_SEND_SECTION_START);
  lines.push('## Group send through the engine');
  lines.push('');
  lines.push(
    `_Generated by \`npm run bench -- --only groupsend\` (bench/group-send-bench.ts) on ${r.machine.date} in ${int(r.elapsedMs / 1000)} s, ` +
      `on ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}. The machine is shared with other work._`,
  );
  lines.push('');
  lines.push(
    'One group message as the account engine sends it (docs/decisions/0012 "Delivery"): `groups.send` ' +
      '(envelope, sender-key encryption, the message and its outbox record written) and the flush ' +
      'that uploads it once per relay with `fsend`. The relay runs in its own process; every member ' +
      'is a subscribed, acking queue in a third. The group is built directly in the sender’s store ' +
      '(a secured queue, a ratchet session and signed invite/join events per member), not through ' +
      `introductions. ${WARMUP_MESSAGES} messages of warm-up (the first distributes the sender key over ` +
      `the 1:1 sessions), then ${MESSAGES} measured, one after the other; ${TEXT.length}-character texts. ` +
      'Nobody sends receipts back in this bench: between messages, outside the measured send time, ' +
      'the bench hands the engine one delivery receipt per member through the path a receipt from ' +
      'the wire takes (`GroupEngine.receive` of a `rcpt` payload under the account lock, one store ' +
      'batch each), checks that the outbox is then empty, and reports that time per receipt apart.',
  );
  lines.push('');
  lines.push(
    '| members | sender CPU / message (mean) | median | mean without chain replacements | a message that replaced the chain | bytes uploaded / message | `fsend` / message | `send` / message | copies delivered / s (sequential sends) | one receipt handled (wall) | check |',
  );
  lines.push('| --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |');
  for (const x of r.runs) {
    lines.push(
      `| ${int(x.members)} | ${int(x.cpuUsPerMessage)} µs | ${int(x.cpuUsMedian)} µs | ${int(x.cpuUsSteady)} µs | ${x.rotations ? `${int(x.cpuUsRotation)} µs (${x.rotations}×)` : '–'} | ${int(x.bytesPerMessage)} B | ${x.fsendsPerMessage} | ${x.sendsPerMessage} | ${int(x.copiesPerSecond)} | ${int(x.receiptUs)} µs | ${x.check} |`,
    );
  }
  lines.push('');
  const first = r.runs[0];
  const last = r.runs.at(-1);
  const ratio = first && last ? last.cpuUsMedian / first.cpuUsMedian : NaN;
  lines.push(
    `Before (the engine without its message index and per-member receipt records, ${BEFORE.date}, same bench ` +
      `with 40 messages): sender CPU per message ` +
      BEFORE.runs.map((b) => `${int(b.cpuUs)} µs at ${int(b.members)}`).join(', ') +
      '; one receipt ' +
      BEFORE.runs.map((b) => `${int(b.receiptUs)} µs at ${int(b.members)}`).join(', ') +
      '. The outbox holds one record per message (docs/decisions/0012 "Delivery"): the frame, a roster ' +
      'of members stored once per membership, and a bitmap of who still waits.',
  );
  lines.push('');
  lines.push(
    first && last
      ? `Sender CPU of the median message from ${int(first.members)} to ${int(last.members)} members: ${int(first.cpuUsMedian)} µs → ` +
          `${int(last.cpuUsMedian)} µs (×${ratio.toFixed(1)}). The target of a sender cost that stays constant as ` +
          `the group grows is ${ratio <= 1.5 ? '**met** within the noise of this shared machine' : '**not met**'}. ` +
          GROUP_SEND_FINDINGS
      : '',
  );
  lines.push('');
  lines.push(GROUP_SEND_SECTION_END);
  return lines.join('\n');
}

const GROUP_SEND_MARKERS: SectionMarkers = {
  start: GROUP_SEND_SECTION_START,
  end: GROUP_SEND_SECTION_END,
  before: '<!-- fan-out benchmark: start -->',
};

/** Replaces an earlier section, else puts it before the fan-out section (or at the end). */
export function spliceGroupSendSection(markdown: string, section: string): string {
  return spliceSection(markdown, GROUP_SEND_MARKERS, section);
}

/** `--only groupsend`: run this benchmark alone and update its section of docs/BENCHMARKS.md. */
export async function groupSendOnly(log: (line: string) => void): Promise<void> {
  await writeSection(GROUP_SEND_MARKERS, renderGroupSendSection(await benchGroupSend(log)));
  log(`wrote the group send section of ${BENCHMARKS_FILE}`);
}
