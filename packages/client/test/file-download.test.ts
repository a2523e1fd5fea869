// Downloading a received file chunk by chunk into a sink (Account.downloadFileTo): the engine
// never holds the whole file, the sink sees one chunk at a time, and the hash is checked at the end
// (message-kinds.test.ts tampers with a stored blob). A real relay on loopback.
import { describe, expect, it } from 'vitest';
import { FILE_CHUNK_BYTES, systemRandom } from '@parus/core';
import { befriend, relayWorld } from './support/group-harness.ts';

const world = relayWorld('download');

describe('downloadFileTo', () => {
  it('hands the sink one chunk at a time, each written before the next comes, and checks the hash', async () => {
    const alice = await world.account('Alice');
    const bob = await world.account('Bob');
    await befriend(alice, bob, 'alice');
    const bytes = systemRandom.bytes(20 * FILE_CHUNK_BYTES + 123);
    const sent = await alice.sendFile('Bob', { name: 'big.bin', mime: 'application/octet-stream', bytes });
    await alice.sync();
    await bob.sync();
    const sizes: number[] = [];
    let writing = 0;
    let overlapped = false;
    let offset = 0;
    let same = true;
    await bob.downloadFileTo('alice', sent.id, {
      write: async (chunk) => {
        if (writing > 0) overlapped = true;
        writing++;
        sizes.push(chunk.length);
        // Compared now: the engine wipes a chunk once its write has settled.
        same &&= Buffer.from(chunk).equals(Buffer.from(bytes.subarray(offset, offset + chunk.length)));
        offset += chunk.length;
        await new Promise((r) => setTimeout(r, 5)); // a slow disk: the next chunk must wait
        writing--;
      },
    });
    expect(overlapped).toBe(false);
    expect(same).toBe(true);
    expect(offset).toBe(bytes.length);
    expect(sizes.length).toBe(21);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(FILE_CHUNK_BYTES);
    // downloadFile (the browser's whole-bytes path) is the same download into one buffer.
    expect(Buffer.from(await bob.downloadFile('alice', sent.id)).equals(Buffer.from(bytes))).toBe(true);
  });
});
