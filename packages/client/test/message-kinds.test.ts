// Unsend, stickers, /me actions, typing signals and end-to-end encrypted files, between two
// accounts on a real relay over real WebSockets (port 0, temporary data folder).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ExpiredError,
  NotFoundError,
  QuotaError,
  UsageError,
  VerificationError,
  initCrypto,
  systemRandom,
  utf8,
  type CborMap,
} from '@parus/core';
import { startRelay } from '@parus/relay';
import {
  Account,
  MemoryStore,
  type AccountEvents,
  type MessageInfo,
  type TransferProgress,
} from '../src/index.ts';
import type { ConversationIndex } from '../src/conversation-index.ts';
import { nodeTransport } from '../src/node/index.ts';
import type { MessageRecord } from '../src/records.ts';

type Relay = Awaited<ReturnType<typeof startRelay>>;
let relay: Relay;
let dataDir: string;
const open: Account[] = [];
let clock = Date.now();
const now = (): number => clock;

beforeAll(async () => {
  await initCrypto();
  dataDir = mkdtempSync(join(tmpdir(), 'parus-kinds-'));
  relay = await startRelay({ host: '127.0.0.1', port: 0, dataDir, now });
});

afterEach(async () => {
  for (const a of open.splice(0)) await a.close();
});

afterAll(async () => {
  await relay.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function account(name: string, store = new MemoryStore(), address = relay.address): Promise<Account> {
  const a = await Account.create({ store, transport: nodeTransport(), name, relay: address, now });
  open.push(a);
  await a.start();
  return a;
}

async function pair(
  stores: [MemoryStore, MemoryStore] = [new MemoryStore(), new MemoryStore()],
  address = relay.address,
): Promise<[Account, Account]> {
  const alice = await account('Alice', stores[0], address);
  const bob = await account('Bob', stores[1], address);
  const { link } = await alice.createInvite();
  await bob.acceptInvite(link, { alias: 'alice' });
  await exchange(bob, alice);
  return [alice, bob];
}

/** Lets both sides send and receive until everything settled. */
async function exchange(a: Account, b: Account): Promise<void> {
  await a.sync();
  await b.sync();
  await a.sync();
  await b.sync();
}

function next<K extends keyof AccountEvents>(a: Account, event: K): Promise<AccountEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${String(event)} event`)), 5_000);
    const off = a.events.on(event, (payload) => {
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

/** Every value the store holds, for "no plaintext left" checks (MemoryStore keeps them plain). */
function storeBytes(store: MemoryStore): Uint8Array[] {
  const data = (store as unknown as { data: Map<string, Map<string, Uint8Array>> }).data;
  return [...data.values()].flatMap((m) => [...m.values()]);
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).indexOf(Buffer.from(needle)) >= 0;
}

function cloneStore(source: MemoryStore): MemoryStore {
  const copy = new MemoryStore();
  const from = (source as unknown as { data: Map<string, Map<string, Uint8Array>> }).data;
  const to = (copy as unknown as { data: Map<string, Map<string, Uint8Array>> }).data;
  for (const [c, m] of from) to.set(c, new Map(m));
  return copy;
}

/**
 * A peer that breaks the rules: sends an envelope of any kind through the engine's own path
 * (the account's 1:1 sending part, account/direct-messaging.ts).
 */
interface Internals {
  messaging: {
    sendUserMessage(
      alias: string,
      kind: string,
      replyTo: undefined,
      make: () => { body: CborMap; fields: { text: string } },
    ): Promise<MessageInfo>;
  };
}

describe('unsend (收回)', () => {
  it('takes a message back on both sides, both ways, and leaves no text in either store', async () => {
    const stores: [MemoryStore, MemoryStore] = [new MemoryStore(), new MemoryStore()];
    const [alice, bob] = await pair(stores);
    const secret = 'the secret plan 秘密計畫';
    const m = await bob.sendText('alice', secret);
    await bob.sendText('alice', 'stays');
    await exchange(bob, alice);
    expect((await alice.history('Bob')).map((x) => x.text)).toEqual([secret, 'stays']);

    const unsentOnAlice = next(alice, 'unsent');
    const tomb = await bob.unsend('alice', m.id);
    expect(tomb).toMatchObject({ id: m.id, unsent: true, text: '' });
    await exchange(bob, alice);
    expect(await unsentOnAlice).toEqual({ alias: 'Bob', id: m.id });
    for (const history of [await alice.history('Bob'), await bob.history('alice')]) {
      expect(history.map((x) => [x.text, x.unsent ?? false])).toEqual([
        ['', true],
        ['stays', false],
      ]);
    }
    for (const store of stores)
      for (const value of storeBytes(store)) expect(contains(value, utf8(secret))).toBe(false);
    expect(await bob.outboxSize()).toEqual({ queued: 0, relayed: 0 });

    // And the other way round.
    const a = await alice.sendSticker('Bob', 'parus', 'hello');
    await exchange(alice, bob);
    await alice.unsend('Bob', a.id);
    await exchange(alice, bob);
    expect((await bob.history('alice')).find((x) => x.id === a.id)).toMatchObject({ unsent: true });
    expect((await bob.history('alice')).find((x) => x.id === a.id)?.sticker).toBeUndefined();
  });

  it("refuses to unsend someone else's message, an unknown id or twice, and changes nothing", async () => {
    const [alice, bob] = await pair();
    const theirs = await alice.sendText('Bob', 'from alice');
    await exchange(alice, bob);
    const mine = await bob.sendText('alice', 'from bob');
    await expect(bob.unsend('alice', theirs.id)).rejects.toBeInstanceOf(UsageError);
    await expect(bob.unsend('alice', '00'.repeat(32))).rejects.toBeInstanceOf(NotFoundError);
    await expect(bob.unsend('alice', 'not hex')).rejects.toBeInstanceOf(UsageError);
    await bob.unsend('alice', mine.id);
    await expect(bob.unsend('alice', mine.id)).rejects.toBeInstanceOf(UsageError);
    expect((await bob.history('alice')).find((x) => x.id === theirs.id)).toMatchObject({
      text: 'from alice',
    });
  });

  it("ignores a peer's unsend of a message that is not theirs", async () => {
    const [alice, bob] = await pair();
    const mine = await alice.sendText('Bob', 'alice wrote this');
    await exchange(alice, bob);
    const errors: string[] = [];
    alice.events.on('error', (e) => errors.push(e.error.name));
    // Bob's engine would refuse; a modified client sends it anyway.
    await (bob as unknown as Internals).messaging.sendUserMessage('alice', 'unsend', undefined, () => ({
      body: { target: Uint8Array.from(Buffer.from(mine.id, 'hex')) },
      fields: { text: '' },
    }));
    await exchange(bob, alice);
    expect(errors).toContain('ProtocolError');
    expect((await alice.history('Bob')).find((x) => x.id === mine.id)).toMatchObject({
      text: 'alice wrote this',
    });
    expect((await alice.history('Bob')).every((x) => !x.unsent)).toBe(true);
  });
});

describe('reactions (decision 0044)', () => {
  it('a modified client’s reaction to a message not in the conversation, or with another emoji, changes nothing', async () => {
    const [alice, bob] = await pair();
    const mine = await alice.sendText('Bob', 'react to me');
    await exchange(alice, bob);
    const errors: string[] = [];
    alice.events.on('error', (e) => errors.push(e.error.name));
    const forged = (target: Uint8Array, emoji: string) =>
      (bob as unknown as Internals).messaging.sendUserMessage('alice', 'reaction', undefined, () => ({
        body: { target, emoji },
        fields: { text: '' },
      }));
    await forged(new Uint8Array(32).fill(9), '👍'); // no such message: ignored
    await forged(Uint8Array.from(Buffer.from(mine.id, 'hex')), 'hello'); // not a reaction: refused
    await exchange(bob, alice);
    expect(errors).toContain('DecodeError');
    const after = (await alice.history('Bob')).find((x) => x.id === mine.id)!;
    expect(after.reactions).toBeUndefined();
    expect((await alice.history('Bob')).map((x) => x.kind)).toEqual(['text']);
  });
});

describe('a peer that breaks the clock rule', () => {
  it('refuses a message whose Lamport clock jumps too far ahead; our own clock stays where it was', async () => {
    const [alice, bob] = await pair();
    const first = await alice.sendText('Bob', 'hello');
    await exchange(alice, bob);
    // A modified client: Bob's index claims a message at clock 5,000,000, so his next message
    // names it as a parent and carries the clock after it (the bound is 1,000,000 past ours).
    const bobIndexes = (bob as unknown as { conversations: Map<string, ConversationIndex> }).conversations;
    expect(bobIndexes.size).toBe(1);
    const [index] = [...bobIndexes.values()];
    const forged = (await bob.history('alice'))[0]!;
    index!.put({
      id: new Uint8Array(32).fill(7),
      dir: 'out',
      kind: 'text',
      parents: [Uint8Array.from(Buffer.from(forged.id, 'hex'))],
      lamport: 5_000_000,
    } as MessageRecord);
    const errors: string[] = [];
    alice.events.on('error', (e) => errors.push(e.error.name));
    const far = await bob.sendText('alice', 'from the far future');
    expect(far.lamport).toBe(5_000_001);
    await exchange(bob, alice);
    expect(errors).toContain('ProtocolError');
    expect((await alice.history('Bob')).map((m) => m.text)).toEqual(['hello']);
    // Alice's clock was not pushed: her next message follows her own history.
    const after = await alice.sendText('Bob', 'still here');
    expect(after.lamport).toBe(first.lamport + 1);
    await exchange(alice, bob);
    expect((await bob.history('alice')).map((m) => m.text)).toContain('still here');
  });
});

describe('stickers, actions and typing', () => {
  it('sends a sticker and a /me action with their shapes checked', async () => {
    const [alice, bob] = await pair();
    await alice.sendSticker('Bob', 'parus', 'goodnight');
    await alice.sendText('Bob', 'waves', { action: true });
    await exchange(alice, bob);
    const got = await bob.takeUnshown();
    expect(got.map((m) => [m.kind, m.sticker, m.action, m.text])).toEqual([
      ['sticker', { pack: 'parus', id: 'goodnight' }, undefined, ''],
      ['text', undefined, true, 'waves'],
    ]);
    await expect(alice.sendSticker('Bob', 'parus', '../etc')).rejects.toBeInstanceOf(UsageError);
    await expect(alice.sendSticker('Bob', 'Parus', 'hello')).rejects.toBeInstanceOf(UsageError);
    await expect(alice.sendSticker('Bob', 'parus', 'x'.repeat(33))).rejects.toBeInstanceOf(UsageError);
    expect(await alice.history('Bob')).toHaveLength(2);
  });

  it('shows typing on the other side, at most once per 3 s, never stored or resent', async () => {
    const [alice, bob] = await pair();
    const typing = next(bob, 'typing');
    expect(await alice.sendTyping('Bob')).toBe(true);
    expect(await alice.sendTyping('Bob')).toBe(false);
    expect(await typing).toEqual({ alias: 'alice' });
    clock += 3_000;
    const again = next(bob, 'typing');
    expect(await alice.sendTyping('Bob')).toBe(true);
    await again;
    await exchange(alice, bob);
    expect(await bob.history('alice')).toEqual([]);
    expect(await alice.history('Bob')).toEqual([]);
    expect(await alice.outboxSize()).toEqual({ queued: 0, relayed: 0 });
  });

  it('signals typing again at once after a message, as the web composer expects', async () => {
    const [alice, bob] = await pair();
    expect(await alice.sendTyping('Bob')).toBe(true);
    expect(await alice.sendTyping('Bob')).toBe(false);
    await alice.sendText('Bob', '好');
    // The message ended the typing on Bob's side; the next keystroke shows it again.
    const typing = next(bob, 'typing');
    expect(await alice.sendTyping('Bob')).toBe(true);
    expect(await alice.sendTyping('Bob')).toBe(false);
    expect(await typing).toEqual({ alias: 'alice' });
    await exchange(alice, bob);
  });
});

describe('files', () => {
  it('sends a file end to end encrypted, with progress, and the receiver gets the same bytes', async () => {
    const [alice, bob] = await pair();
    const bytes = systemRandom.bytes(200_000);
    const thumbnail = systemRandom.bytes(1_000);
    const progress: TransferProgress[] = [];
    const sent = await alice.sendFile(
      'Bob',
      { name: '照片 1.jpg', mime: 'image/jpeg', bytes, thumbnail },
      { onProgress: (p) => progress.push(p) },
    );
    expect(sent.file).toMatchObject({ name: '照片 1.jpg', mime: 'image/jpeg', size: 200_000 });
    expect(progress.at(-1)!.done).toBe(progress.at(-1)!.total);
    expect(progress.map((p) => p.done)).toEqual([...progress.map((p) => p.done)].sort((a, b) => a - b));
    await exchange(alice, bob);
    const [got] = await bob.takeUnshown();
    expect(got).toMatchObject({ kind: 'file', text: '', file: { name: '照片 1.jpg', size: 200_000 } });
    expect(Buffer.from(got!.file!.thumbnail!).equals(Buffer.from(thumbnail))).toBe(true);
    const down: TransferProgress[] = [];
    const file = await bob.downloadFile('alice', got!.id, { onProgress: (p) => down.push(p) });
    expect(Buffer.from(file).equals(Buffer.from(bytes))).toBe(true);
    expect(down.at(-1)).toMatchObject({ done: down.at(-1)!.total });
    // The relay holds the ciphertext only.
    for (const name of readdirSync(join(dataDir, 'blobs'))) {
      expect(contains(readFileSync(join(dataDir, 'blobs', name)), bytes.subarray(0, 64))).toBe(false);
    }
    // A relay that changes a stored byte is caught: the stream and the hash both check.
    const blobFile = join(dataDir, 'blobs', readdirSync(join(dataDir, 'blobs'))[0]!);
    const stored = readFileSync(blobFile);
    stored[70_000]! ^= 1;
    writeFileSync(blobFile, stored);
    await expect(bob.downloadFile('alice', got!.id)).rejects.toBeInstanceOf(VerificationError);
    stored[70_000]! ^= 1;
    writeFileSync(blobFile, stored);
    // An empty file is a file too.
    const empty = await alice.sendFile('Bob', {
      name: 'empty.txt',
      mime: 'text/plain',
      bytes: new Uint8Array(0),
    });
    await exchange(alice, bob);
    expect(await bob.downloadFile('alice', empty.id)).toHaveLength(0);
    // Unsending a file also deletes its blob on the relay, and the receiver loses its keys.
    const blobs = relay.stats().blobs;
    await alice.unsend('Bob', empty.id);
    expect(relay.stats().blobs).toBe(blobs - 1);
    await exchange(alice, bob);
    await expect(bob.downloadFile('alice', empty.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('resumes an interrupted upload after a restart from what the relay has', async () => {
    const aliceStore = new MemoryStore();
    const [alice, bob] = await pair([aliceStore, new MemoryStore()]);
    const bytes = systemRandom.bytes(600_000);
    const file = { name: 'big.bin', mime: 'application/octet-stream', bytes };
    const stop = new AbortController();
    await expect(
      alice.sendFile('Bob', file, {
        signal: stop.signal,
        onProgress: (p) => {
          if (p.done > 150_000) stop.abort();
        },
      }),
    ).rejects.toThrow();
    expect(await alice.pendingUploads()).toMatchObject([{ alias: 'Bob', name: 'big.bin', size: 600_000 }]);
    expect(await alice.history('Bob')).toEqual([]);

    // The device restarts; sending the same file again continues the upload.
    await alice.close();
    open.splice(open.indexOf(alice), 1);
    const again = await Account.open({ store: cloneStore(aliceStore), transport: nodeTransport(), now });
    open.push(again);
    await again.start();
    const progress: TransferProgress[] = [];
    const sent = await again.sendFile('Bob', file, { onProgress: (p) => progress.push(p) });
    expect(progress[0]!.done).toBeGreaterThan(150_000);
    expect(await again.pendingUploads()).toEqual([]);
    await exchange(again, bob);
    expect(Buffer.from(await bob.downloadFile('alice', sent.id)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('goes on with a download after the relay restarts in the middle of it', async () => {
    // A slow relay (two chunks at once, then one a second, per connection), so that the
    // restart surely lands in the middle of the download.
    const limits = { blobByteBurst: 2 * 65_553, blobBytesPerSecond: 65_553 };
    const ownDir = mkdtempSync(join(tmpdir(), 'parus-restart-'));
    let own = await startRelay({ port: 0, dataDir: ownDir, now, limits });
    const port = own.port;
    try {
      const [alice, bob] = await pair(undefined, own.address);
      const bytes = systemRandom.bytes(5 * 65_536 - 100);
      const m = await alice.sendFile('Bob', { name: 'video.mp4', mime: 'video/mp4', bytes });
      await exchange(alice, bob);
      let restarted: Promise<void> | undefined;
      let closed = false;
      let afterRestart = 0;
      const got = await bob.downloadFile('alice', m.id, {
        onProgress: () => {
          if (closed) afterRestart++; // only the new relay can have sent this chunk
          restarted ??= (async () => {
            await own.close();
            closed = true;
            own = await startRelay({ port, dataDir: ownDir, now, limits });
          })();
        },
      });
      await restarted;
      expect(afterRestart).toBeGreaterThan(0);
      expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true);
    } finally {
      for (const a of open.splice(0)) await a.close();
      await own.close();
      rmSync(ownDir, { recursive: true, force: true });
    }
  }, 30_000);

  it('refuses a file over the relay limit and an expired file with typed errors', async () => {
    const smallDir = mkdtempSync(join(tmpdir(), 'parus-small-'));
    const small = await startRelay({ port: 0, dataDir: smallDir, now, limits: { maxBlobBytes: 100_000 } });
    try {
      const [alice, bob] = await pair(undefined, small.address);
      await expect(
        alice.sendFile('Bob', {
          name: 'big',
          mime: 'application/octet-stream',
          bytes: new Uint8Array(100_001),
        }),
      ).rejects.toBeInstanceOf(QuotaError);
      await expect(
        alice.sendFile('Bob', { name: 'bad\nname', mime: 'text/plain', bytes: new Uint8Array(1) }),
      ).rejects.toBeInstanceOf(UsageError);
      await expect(
        alice.sendFile('Bob', { name: 'ok', mime: 'not a type', bytes: new Uint8Array(1) }),
      ).rejects.toBeInstanceOf(UsageError);
      const m = await alice.sendFile('Bob', { name: 'note.txt', mime: 'text/plain', bytes: utf8('hi') });
      await exchange(alice, bob);
      await expect(bob.downloadFile('alice', (await bob.history('alice'))[0]!.id)).resolves.toHaveLength(2);
      clock = m.file!.expires;
      await expect(bob.downloadFile('alice', m.id)).rejects.toBeInstanceOf(ExpiredError);
      await expect(bob.downloadFile('alice', '11'.repeat(32))).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      for (const a of open.splice(0)) await a.close();
      await small.close();
      rmSync(smallDir, { recursive: true, force: true });
    }
  });
});
