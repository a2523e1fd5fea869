/**
 * 1:1 conversation benchmark: what one more message costs as a conversation grows. Two real
 * accounts (in-memory stores) and a real relay on loopback, in this process; Bob writes to
 * Alice until the conversation holds 100, 1,000 and 5,000 messages, and at each size
 * measures:
 * - the synchronous part of a send (`sendText`: the envelope after the DAG heads, its record
 *   and its outbox entry in one store batch), as wall time, one send after the other;
 * - the same position (heads and clock) found the way it was before the conversation index
 *   (client/src/conversation-index.ts): every stored record read and decoded, then `dagHeads`
 *   and `nextLamport` over them — measured in the same run on the same store.
 * A receive took that scan as well (clock bound and missing parents), so it paid the same.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { dagHeads, initCrypto, nextLamport } from '@parus/core';
import { Account, MemoryStore } from '@parus/client';
import { nodeTransport } from '@parus/client/node';
import { startRelay } from '@parus/relay';
import { decodeMessage } from '../packages/client/src/records.ts';
import { spliceSection, writeSection, type SectionMarkers } from './doc-sections.ts';
import { describeMachine, type Machine } from './machine.ts';

export const CONVERSATION_SIZES = [100, 1_000, 5_000];
/** Sends timed at each size. */
const SAMPLES = 50;

const MARKERS: SectionMarkers = {
  start: '<!-- conversation benchmark: start -->',
  end: '<!-- conversation benchmark: end -->',
  before: '## Double Ratchet',
};

export interface ConversationRow {
  messages: number;
  /** Mean synchronous part of one `sendText`, µs. */
  sendUs: number;
  /** Mean time to find the next position by reading every stored record, µs. */
  scanUs: number;
}

export interface ConversationReport {
  machine: Machine;
  elapsedMs: number;
  rows: ConversationRow[];
}

/** Remembers the collection Bob's messages to Alice are stored in (`msg.<contact id>`). */
class WatchedStore extends MemoryStore {
  messages: string | undefined;

  override async batch(ops: Parameters<MemoryStore['batch']>[0]): Promise<void> {
    for (const op of ops) if (op.collection.startsWith('msg.')) this.messages = op.collection;
    return super.batch(ops);
  }
}

export async function benchConversation(log: (line: string) => void): Promise<ConversationReport> {
  const started = performance.now();
  await initCrypto();
  const machine = await describeMachine();
  const dataDir = await mkdtemp(join(tmpdir(), 'parus-conversation-bench-'));
  const relay = await startRelay({ host: '127.0.0.1', port: 0, dataDir });
  const bobStore = new WatchedStore();
  const open = (name: string, store: MemoryStore): Promise<Account> =>
    Account.create({ store, transport: nodeTransport(), name, relay: relay.address });
  const alice = await open('Alice', new MemoryStore());
  const bob = await open('Bob', bobStore);
  const rows: ConversationRow[] = [];
  try {
    await alice.start();
    await bob.start();
    const { link } = await alice.createInvite();
    await bob.acceptInvite(link, { alias: 'alice' });
    await bob.sync();
    await alice.sync();
    await bob.sync();
    let written = 0;
    for (const size of CONVERSATION_SIZES) {
      while (written < size - SAMPLES) {
        await bob.sendText('alice', `message ${written}`);
        written += 1;
        if (written % 250 === 0) await Promise.all([bob.sync(), alice.sync()]);
      }
      await Promise.all([bob.sync(), alice.sync()]);
      const t0 = performance.now();
      for (let i = 0; i < SAMPLES; i++) await bob.sendText('alice', `timed ${written + i}`);
      const sendUs = ((performance.now() - t0) * 1000) / SAMPLES;
      written += SAMPLES;
      const collection = bobStore.messages;
      if (!collection) throw new Error('no message collection was written');
      const scans = 5;
      const t1 = performance.now();
      for (let i = 0; i < scans; i++) {
        const records = (await bobStore.list(collection)).map((e) => decodeMessage(e.value));
        if (dagHeads(records).length === 0 || nextLamport(records) < records.length / 2)
          throw new Error('the scan found no position');
      }
      const scanUs = ((performance.now() - t1) * 1000) / scans;
      rows.push({ messages: size, sendUs, scanUs });
      log(
        `conversation of ${size}: send ${(sendUs / 1000).toFixed(2)} ms, full scan ${(scanUs / 1000).toFixed(2)} ms`,
      );
    }
    await Promise.all([bob.sync(), alice.sync()]);
    const history = await alice.history('Bob');
    if (history.length !== written) throw new Error(`Alice has ${history.length} of ${written} messages`);
  } finally {
    await alice.close();
    await bob.close();
    await relay.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  return { machine, elapsedMs: performance.now() - started, rows };
}

function ms(us: number): string {
  return (us / 1000).toFixed(2);
}

export function renderConversationSection(r: ConversationReport): string {
  const first = r.rows[0]!;
  const last = r.rows.at(-1)!;
  return [
    MARKERS.start,
    '## 1:1 conversations: the cost of one more message',
    '',
    `_Generated by \`npm run bench -- --only conversation\` (bench/conversation-bench.ts) on ${r.machine.date} in ${Math.round(r.elapsedMs / 1000)} s, ` +
      `on ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}; shared machine, wall times._`,
    '',
    `Two accounts with in-memory stores and a relay on loopback in one process; Bob writes to Alice until the conversation holds N messages, then times ${SAMPLES} sends one after the other. ` +
      '_Send_ is the synchronous part of `sendText` (the envelope after the DAG heads, its record and outbox entry in one store batch; encryption and upload follow in the background). ' +
      '_Full scan_ is how the next position was found before the conversation index: every stored record read and decoded, then the heads and the clock computed over them, measured on the same store in the same run; a receive paid the same scan (clock bound, missing parents).',
    '',
    '| N messages | send, ms | full scan, ms |',
    '| --: | --: | --: |',
    ...r.rows.map(
      (row) => `| ${row.messages.toLocaleString('en-US')} | ${ms(row.sendUs)} | ${ms(row.scanUs)} |`,
    ),
    '',
    `From ${first.messages.toLocaleString('en-US')} to ${last.messages.toLocaleString('en-US')} messages a send went from ${ms(first.sendUs)} to ${ms(last.sendUs)} ms, ` +
      `while the scan it no longer does grew from ${ms(first.scanUs)} to ${ms(last.scanUs)} ms.`,
    '',
    MARKERS.end,
  ].join('\n');
}

export function spliceConversationSection(markdown: string, section: string): string {
  return spliceSection(markdown, MARKERS, section);
}

/** `--only conversation`: run this benchmark alone and update its section of docs/BENCHMARKS.md. */
export async function conversationOnly(log: (line: string) => void): Promise<void> {
  await writeSection(MARKERS, renderConversationSection(await benchConversation(log)));
  log('wrote the 1:1 conversation section of docs/BENCHMARKS.md');
}
