/**
 * What each card record command does (core short-invitation.ts, docs/decisions/0045). The
 * connection has already checked the framing, the session, the request id and the creation
 * budgets; `cput` and `cdel` check their authenticator against the owner's key `ck`; `cget`
 * needs only the unguessable id (the record is sealed under a key the relay never sees).
 */
import { CARD_RECORD_ID_BYTES, UsageError } from '@parus/core';
import type { CardCommand, CardPutFrame, Random } from '@parus/core';
import type { CardRecords } from './card-records.ts';
import type { CommandContext } from './command-context.ts';
import type { StorageBudget } from './storage-budget.ts';

export interface CardCommandOptions {
  store: CardRecords;
  rng: Random;
  now: () => number;
  /** The longest a record is kept, whatever its owner asks. */
  maxTtlMs: number;
  storage: StorageBudget;
}

export class CardCommandHandler {
  constructor(private readonly opts: CardCommandOptions) {}

  async run(ctx: CommandContext, frame: CardCommand): Promise<void> {
    const { store, now } = this.opts;
    switch (frame.t) {
      case 'cput':
        return this.put(ctx, frame);
      case 'cget': {
        const r = await store.get(frame.cid, now());
        ctx.reply({ t: 'crec', id: frame.id, cid: r.cid, exp: r.expires, data: r.data });
        return;
      }
      case 'cdel':
        await store.delete(frame.cid, (r) => ctx.auth.check(r.ck, frame, frame.auth, ctx.received));
        ctx.reply({ t: 'ok', id: frame.id });
        return;
    }
  }

  private async put(ctx: CommandContext, frame: CardPutFrame): Promise<void> {
    // Authenticated with the key it registers: proof that the caller holds it.
    ctx.auth.check(frame.ck, frame, frame.auth, ctx.received);
    const now = this.opts.now();
    if (frame.exp <= now) throw new UsageError('a card record must expire in the future');
    this.opts.storage.check('card records', frame.data.length);
    const cid = this.opts.rng.bytes(CARD_RECORD_ID_BYTES);
    const exp = Math.min(frame.exp, now + this.opts.maxTtlMs);
    await this.opts.store.put({ cid, ck: frame.ck, data: frame.data, expires: exp });
    ctx.reply({ t: 'crec', id: frame.id, cid, exp });
  }
}
