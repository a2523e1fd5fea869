// 1:1 history in the account snapshot (history-snapshot.ts, decision 0041): what is carried,
// the strict codec, and a restore that shows the messages in order, once each; real accounts
// over a real relay on loopback for the end-to-end case.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DecodeError,
  UsageError,
  decodeCbor,
  encodeCbor,
  initCrypto,
  openAccountBackup,
  sealAccountBackup,
  systemRandom,
  toHex,
  type CborMap,
} from '@parus/core';
import { startRelay } from '@parus/relay';
import { Account, MemoryStore, decodeSnapshot, encodeSnapshot, parseHistoryChoice } from '../src/index.ts';
import { collectHistory, restoreHistoryOps } from '../src/history-snapshot.ts';
import { encodeRecord, type ContactRecord, type MessageRecord } from '../src/records.ts';
import { nodeTransport } from '../src/node/index.ts';
import { befriend } from './support/group-harness.ts';

type Relay = Awaited<ReturnType<typeof startRelay>>;
let relay: Relay;
let dataDir: string;
const open: Account[] = [];
const LIGHT = { opsLimit: 1, memLimit: 8192 };
const PASS = 'alice passphrase 一二三';
const DAY = 24 * 60 * 60 * 1000;

beforeAll(async () => {
  await initCrypto();
  dataDir = mkdtempSync(join(tmpdir(), 'parus-history-'));
  relay = await startRelay({ host: '127.0.0.1', port: 0, dataDir });
});

afterAll(async () => {
  for (const a of open) await a.close();
  await relay.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function account(name: string, now?: () => number): Promise<Account> {
  const opts = { store: new MemoryStore(), transport: nodeTransport(), name, relay: relay.address };
  const a = await Account.create(now ? { ...opts, now } : opts);
  open.push(a);
  return a;
}

const contactId = new Uint8Array(16).fill(7);
let n = 0;
function record(over: Partial<MessageRecord>): MessageRecord {
  n++;
  return {
    id: new Uint8Array(32).fill(n),
    contact: contactId,
    dir: 'out',
    kind: 'text',
    text: `m${n}`,
    parents: [],
    lamport: n,
    ts: n * 1000,
    received: n * 1000,
    status: 'delivered',
    shown: true,
    envelope: new Uint8Array(40),
    ...over,
  };
}

async function storeWith(records: MessageRecord[]): Promise<MemoryStore> {
  const store = new MemoryStore();
  await store.batch(
    records.map((r) => ({
      type: 'put' as const,
      collection: `msg.${toHex(r.contact)}`,
      key: toHex(r.id),
      value: encodeRecord(r),
    })),
  );
  return store;
}

const contact = { id: contactId } as ContactRecord;

describe('history in the snapshot', () => {
  it('parses all, none and a number of days; refuses anything else', () => {
    expect(parseHistoryChoice('all')).toBe('all');
    expect(parseHistoryChoice(' NONE ')).toBe('none');
    expect(parseHistoryChoice('30')).toEqual({ days: 30 });
    for (const bad of ['0', '-1', '3651', 'some', '', '1.5'])
      expect(() => parseHistoryChoice(bad)).toThrow(UsageError);
  });

  it('carries what left or arrived; never an unsent, pending, failed or control record, nor an envelope', async () => {
    const a = record({ text: 'hello' });
    const b = record({ dir: 'in', status: 'received', parents: [a.id] });
    const unsent = record({ text: '', unsent: 5, parents: [b.id] });
    const c = record({ parents: [unsent.id], sticker: { pack: 'parus', id: 'hi' } });
    const pending = record({ status: 'pending', parents: [c.id] });
    const failed = record({ status: 'failed', parents: [c.id] });
    const receipt = record({ kind: 'unsend', target: unsent.id, parents: [c.id] });
    const store = await storeWith([a, b, unsent, c, pending, failed, receipt]);
    const { messages, cut } = await collectHistory({ store, contacts: [contact], choice: 'all', now: 1e6 });
    expect(cut).toBe(false);
    expect(messages.map((m) => m.text)).toEqual(['hello', b.text, c.text]);
    // The parent taken back is dropped: the restored DAG is closed, nothing to ask for again.
    expect(messages[2]!.parents).toEqual([]);
    expect(messages[1]!.parents).toEqual([a.id]);
    const ops = restoreHistoryOps([...messages, ...messages]);
    expect(ops).toHaveLength(3); // a message carried twice is written once
    expect(JSON.stringify(ops)).not.toContain('envelope":{"0":0'); // (envelopes are empty)
    const none = await collectHistory({ store, contacts: [contact], choice: 'none', now: 1e6 });
    expect(none.messages).toEqual([]);
  });

  it('the last N days by the message time, and the newest first when the budget is reached', async () => {
    const now = 100 * DAY;
    const old = record({ ts: now - 40 * DAY, text: 'old' });
    const recent = record({ ts: now - 2 * DAY, parents: [old.id], text: 'recent' });
    const newest = record({ ts: now - DAY, parents: [recent.id], text: 'newest' });
    const store = await storeWith([old, recent, newest]);
    const days = await collectHistory({ store, contacts: [contact], choice: { days: 30 }, now });
    expect(days.messages.map((m) => m.text)).toEqual(['recent', 'newest']);
    expect(days.messages[0]!.parents).toEqual([]);
    const one = encodeCbor({ x: 1 }).length; // a budget for about one message
    const cut = await collectHistory({
      store,
      contacts: [contact],
      choice: 'all',
      now,
      budgetBytes: 200 + one,
    });
    expect(cut.cut).toBe(true);
    expect(cut.messages.map((m) => m.text)).toEqual(['newest']);
  });

  it('decodes strictly: unknown fields, statuses and contacts are DecodeErrors', async () => {
    const alice = await account('Alice');
    const bob = await account('Bob');
    await befriend(alice, bob, 'alice');
    await alice.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
    await alice.sendText(alice.contacts()[0]!.alias, 'hi');
    await alice.sync();
    await bob.sync();
    await alice.sync();
    const bytes = encodeSnapshot(await alice.snapshot({ history: 'all' }));
    expect(decodeSnapshot(bytes).history).toHaveLength(1);
    const mutate = (f: (m: CborMap) => void): Uint8Array => {
      const m = decodeCbor(bytes) as CborMap;
      f(((m.history as CborMap[])[0] as CborMap) ?? {});
      return encodeCbor(m);
    };
    expect(() => decodeSnapshot(mutate((m) => (m.extra = 1)))).toThrow(DecodeError);
    expect(() => decodeSnapshot(mutate((m) => (m.status = 'pending')))).toThrow(DecodeError);
    expect(() => decodeSnapshot(mutate((m) => (m.kind = 'unsend')))).toThrow(DecodeError);
    expect(() => decodeSnapshot(mutate((m) => (m.c = new Uint8Array(16))))).toThrow(DecodeError);
  });

  it('a backup with history restores the conversation in order on a new device, without what was taken back', async () => {
    let clock = Date.now();
    const alice = await account('Alice', () => clock);
    const bob = await account('Bob');
    await befriend(alice, bob, 'alice');
    const bobAlias = alice.contacts()[0]!.alias;
    const exchange = async (): Promise<void> => {
      await alice.sync();
      await bob.sync();
      await alice.sync();
    };
    clock = Date.now() - 60 * DAY; // a message of two months ago (her clock)
    await alice.sendText(bobAlias, 'long ago');
    await exchange();
    clock = Date.now();
    await alice.sendText(bobAlias, 'one');
    await exchange();
    await bob.sendText('alice', 'two');
    await exchange();
    const gone = await alice.sendText(bobAlias, 'taken back');
    await exchange();
    await alice.unsend(bobAlias, gone.id);
    await alice.sendText(bobAlias, 'three');
    await exchange();
    expect((await alice.history(bobAlias)).map((m) => m.text)).toEqual([
      'long ago',
      'one',
      'two',
      '',
      'three',
    ]);
    await alice.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });

    const restore = async (history: 'all' | 'none' | { days: number }): Promise<string[]> => {
      const file = sealAccountBackup({
        passphrase: PASS,
        payload: encodeSnapshot(await alice.snapshot({ history })),
        rng: systemRandom,
        cost: LIGHT,
      });
      const fresh = await account('Alice');
      await fresh.restoreSnapshot(decodeSnapshot(openAccountBackup(file, PASS)), {
        passphrase: PASS,
        deviceName: 'new laptop',
      });
      const shown = await fresh.restoredHistory(bobAlias);
      expect(new Set(shown.map((m) => m.id)).size).toBe(shown.length);
      return shown.map((m) => `${m.dir}:${m.text}`);
    };
    expect(await restore('all')).toEqual(['out:long ago', 'out:one', 'in:two', 'out:three']);
    expect(await restore({ days: 30 })).toEqual(['out:one', 'in:two', 'out:three']);
    expect(await restore('none')).toEqual([]);
  });

  it('once the restored device is introduced, the carried history is its chat with the contact, and new messages follow it', async () => {
    const laptop = await account('Alice');
    const bob = await account('Bob');
    await laptop.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
    await befriend(laptop, bob, 'alice');
    const sync = async (...as: Account[]): Promise<void> => {
      for (const a of as) await a.sync();
    };
    await sync(laptop, bob, laptop);
    await laptop.sendText('Bob', 'before the phone');
    await sync(laptop, bob, laptop);
    await bob.sendText('alice', 'reply before');
    await sync(bob, laptop);
    const phone = await account('Alice');
    await phone.restoreSnapshot(await laptop.snapshot({ history: 'all' }), {
      passphrase: PASS,
      deviceName: 'phone',
    });
    await phone.sync();
    expect(phone.contacts().map((c) => c.alias)).toEqual(['Bob']);
    await sync(bob, phone);
    await bob.sendText('alice', 'after the phone');
    await sync(bob, phone);
    const texts = (await phone.history('Bob')).map((m) => `${m.dir}:${m.text}`);
    expect(texts).toEqual(['out:before the phone', 'in:reply before', 'in:after the phone']);
    expect(await phone.restoredHistory('Bob')).toEqual(await phone.history('Bob'));
  });
});
