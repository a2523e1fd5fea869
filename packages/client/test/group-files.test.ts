// Photos, files and voice messages in groups (issue 15 item 1, decision 0044 "Not done"): one
// blob upload, the keys inside the group message, one fan-out send; every member downloads and
// checks it. In-process accounts over real WebSockets to a real relay.
import { describe, expect, it } from 'vitest';
import { MAX_FILE_BYTES, NotFoundError, QuotaError, UsageError } from '@parus/core';
import type { Account, MessageInfo } from '../src/index.ts';
import { befriend, relayWorld, settle, until } from './support/group-harness.ts';

const world = relayWorld('group-files');

async function threeOf(): Promise<{ alice: Account; bob: Account; carol: Account; g: string }> {
  const alice = await world.account('Alice');
  const bob = await world.account('Bob');
  const carol = await world.account('Carol');
  await befriend(alice, bob, 'alice');
  await befriend(alice, carol, 'alice');
  const g = (await alice.groups.create('Photos')).id;
  await alice.groups.invite(g, 'Bob');
  await alice.groups.invite(g, 'Carol');
  await settle([alice, bob, carol]);
  await bob.groups.join(g);
  await carol.groups.join(g);
  await settle([alice, bob, carol]);
  return { alice, bob, carol, g };
}

async function find(a: Account, g: string, id: string): Promise<MessageInfo | undefined> {
  return (await a.groups.history(g)).find((m) => m.id === id);
}

describe('files in groups', () => {
  it('a photo with its preview, a reply with a file and a voice message reach every member intact', async () => {
    const { alice, bob, carol, g } = await threeOf();
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
    const thumbnail = new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3]);
    const photo = await alice.groups
      .send(g, 'look')
      .then(() => alice.sendGroupFile(g, { name: '合照.jpg', mime: 'image/jpeg', bytes, thumbnail }));
    expect(photo.kind).toBe('file');
    expect(photo.group).toBe(g);
    for (const who of [bob, carol])
      await until([alice, bob, carol], async () => (await find(who, g, photo.id)) !== undefined);
    const got = (await find(carol, g, photo.id))!;
    expect(got.file).toMatchObject({ name: '合照.jpg', mime: 'image/jpeg', size: bytes.length });
    expect(got.file!.thumbnail).toEqual(thumbnail);
    expect(await carol.downloadGroupFile(g, photo.id)).toEqual(bytes);
    expect(await bob.downloadGroupFile(g, photo.id)).toEqual(bytes);
    // Streamed into a sink too (the CLI's path), chunk by chunk.
    const parts: Uint8Array[] = [];
    await bob.downloadGroupFileTo(g, photo.id, { write: (c) => void parts.push(c.slice()) });
    expect(Buffer.concat(parts)).toEqual(Buffer.from(bytes));
    // The sender's own copy opens as well.
    expect(await alice.downloadGroupFile(g, photo.id)).toEqual(bytes);

    const pdf = new TextEncoder().encode('%PDF-1.4 minutes');
    const reply = await bob.sendGroupFile(
      g,
      { name: 'minutes.pdf', mime: 'application/pdf', bytes: pdf },
      { replyTo: photo.id },
    );
    await until([alice, bob, carol], async () => (await find(carol, g, reply.id)) !== undefined);
    expect((await find(carol, g, reply.id))!.replyTo).toBe(photo.id);
    expect(await carol.downloadGroupFile(g, reply.id)).toEqual(pdf);

    const voice = await carol.sendGroupFile(g, {
      name: 'voice.ogg',
      mime: 'audio/ogg',
      bytes: new Uint8Array([0x4f, 0x67, 0x67, 0x53, 9, 9]),
      voice: { ms: 2500, wave: new Uint8Array([10, 200, 30]) },
    });
    await until([alice, bob, carol], async () => (await find(alice, g, voice.id)) !== undefined);
    expect((await find(alice, g, voice.id))!.file!.voice).toEqual({
      ms: 2500,
      wave: new Uint8Array([10, 200, 30]),
    });

    // No upload is left pending once the messages are sent.
    expect(await alice.pendingUploads()).toEqual([]);

    // 收回: the file is gone for everyone.
    await alice.groups.unsend(g, photo.id);
    await until([alice, bob, carol], async () => (await find(bob, g, photo.id))?.unsent === true);
    await expect(bob.downloadGroupFile(g, photo.id)).rejects.toBeInstanceOf(NotFoundError);
    // A text message is not a file.
    const text = (await bob.groups.history(g)).find((m) => m.text === 'look')!;
    await expect(bob.downloadGroupFile(g, text.id)).rejects.toBeInstanceOf(UsageError);
  });

  it('a file too large, or a group I may not write in, is refused before any upload', async () => {
    const { alice, bob, carol, g } = await threeOf();
    const big = {
      name: 'big.bin',
      mime: 'application/octet-stream',
      bytes: new Uint8Array(MAX_FILE_BYTES + 1),
    };
    await expect(alice.sendGroupFile(g, big)).rejects.toBeInstanceOf(QuotaError);
    await bob.groups.leave(g);
    await settle([alice, bob, carol]);
    const small = { name: 'a.txt', mime: 'text/plain', bytes: new Uint8Array([65]) };
    await expect(bob.sendGroupFile(g, small)).rejects.toBeInstanceOf(UsageError);
    expect(await bob.pendingUploads()).toEqual([]);
    const before = (await alice.groups.history(g)).length;
    await settle([alice, bob, carol]);
    expect((await alice.groups.history(g)).length).toBe(before);
  });
});
