/**
 * What each blob command does (blob-protocol.ts, docs/decisions/0010-blobs.md). The
 * connection has already checked the framing, the session, the request id and the byte
 * rate; here each command checks its authenticator against the blob's upload key (`uk`) or
 * download key (`dk`) before it reads or changes anything, and every failure is a typed
 * ParusError that becomes the `err` frame.
 */
import { BLOB_ID_BYTES, DecodeError, ProtocolError, blobChunkCount, blobChunkLength } from '@parus/core';
import type { BlobCommand, BlobFrame, BlobNewFrame, Random } from '@parus/core';
import type { BlobRecord, BlobStore } from './blob-store.ts';
import type { CommandContext } from './command-context.ts';
import type { StorageBudget } from './storage-budget.ts';

export interface BlobCommandOptions {
  store: BlobStore;
  rng: Random;
  now: () => number;
  /** The relay's storage budget: a blob must fit in it when it is created. */
  storage: StorageBudget;
}

function status(id: number, b: BlobRecord): BlobFrame {
  return { t: 'blob', id, bid: b.bid, size: b.size, have: b.have, done: b.done, expires: b.expires };
}

export class BlobCommandHandler {
  constructor(private readonly opts: BlobCommandOptions) {}

  async run(ctx: CommandContext, frame: BlobCommand): Promise<void> {
    const { store, now } = this.opts;
    switch (frame.t) {
      case 'bnew':
        return this.create(ctx, frame);
      case 'bput': {
        await store.put(frame.bid, frame.n, frame.data, now(), (blob) => {
          ctx.auth.check(blob.uk, frame, frame.auth, ctx.received);
          if (frame.n >= blobChunkCount(blob.size))
            throw new ProtocolError(`the blob has ${blobChunkCount(blob.size)} chunks`);
          if (frame.data.length !== blobChunkLength(blob.size, frame.n))
            throw new DecodeError(`chunk ${frame.n} has the wrong length for this blob`);
        });
        ctx.reply({ t: 'ok', id: frame.id });
        return;
      }
      case 'bfin': {
        const blob = await store.finish(frame.bid, frame.hash, now(), (b) =>
          ctx.auth.check(b.uk, frame, frame.auth, ctx.received),
        );
        ctx.reply(status(frame.id, blob));
        return;
      }
      case 'bstat': {
        const blob = await store.get(frame.bid, now());
        ctx.auth.check(blob.uk, frame, frame.auth, ctx.received);
        ctx.reply(status(frame.id, blob));
        return;
      }
      case 'bdel': {
        await store.delete(frame.bid, now(), (b) => ctx.auth.check(b.uk, frame, frame.auth, ctx.received));
        ctx.reply({ t: 'ok', id: frame.id });
        return;
      }
      case 'bget': {
        const blob = await store.get(frame.bid, now());
        ctx.auth.check(blob.dk, frame, frame.auth, ctx.received);
        const data = await store.read(blob, frame.n);
        if (!ctx.isOpen()) return;
        ctx.reply({ t: 'chunk', id: frame.id, n: frame.n, data });
        return;
      }
    }
  }

  private async create(ctx: CommandContext, frame: BlobNewFrame): Promise<void> {
    // Authenticated with the upload key it registers: proof that the caller holds it.
    ctx.auth.check(frame.uk, frame, frame.auth, ctx.received);
    this.opts.storage.check('blobs', frame.size);
    const bid = this.opts.rng.bytes(BLOB_ID_BYTES);
    const blob = await this.opts.store.create(bid, frame.uk, frame.dk, frame.size, this.opts.now());
    ctx.reply(status(frame.id, blob));
  }
}
