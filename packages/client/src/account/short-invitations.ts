/**
 * Short invitations, the account's part for them (core short-invitation.ts, decision 0045): a
 * card I make is also kept sealed on my relay as a card record, so that its link and QR code
 * carry only the relay, the record's id and the key; a short link I am given is fetched and
 * opened back into the card; a record is withdrawn when its card is spent or reset. Also my
 * reusable QR code (好友條碼): one long-lived card, shown until I reset it.
 */
import {
  ExpiredError,
  NotFoundError,
  ParusError,
  ProtocolError,
  cardFromLink,
  cardId,
  cardToLink,
  equalBytes,
  generateDhKeyPair,
  isShortLink,
  openCardRecord,
  parseShortLink,
  sealCardRecord,
  shortLinkToText,
  type RendezvousCard,
} from '@parus/core';
import { encodeRecord, type InviteRecord } from '../records.ts';
import { C, DAY, hex, type AccountContext } from './account-context.ts';

export type ShortInvitationContext = Pick<
  AccountContext,
  | 'store'
  | 'rng'
  | 'now'
  | 'lock'
  | 'invitesById'
  | 'queues'
  | 'connection'
  | 'connected'
  | 'contactsById'
  | 'relays'
>;

/** What a link given to me turns out to be, once fetched if it was short. */
export interface ResolvedInvite {
  /** The long (`parus:` card) form, answerable offline. */
  link: string;
  card: RendezvousCard;
  /** The alias of the contact this card made already, when it is a friend's old link. */
  friend?: string;
}

/** My reusable QR code, as shown. */
export interface MyCode {
  /** The short link when the relay keeps card records, else the long one. */
  link: string;
  longLink: string;
  expires: number;
}

/** How long fetching a short link waits for its relay. */
const FETCH_TIMEOUT_MS = 10_000;
/** My code is made again once it has less than this left. */
const CODE_RENEW_MS = 30 * DAY;

export class ShortInvitations {
  constructor(
    private readonly ctx: ShortInvitationContext,
    private readonly makeCard: (opts: {
      oneTime: boolean;
      ttlMs?: number;
    }) => Promise<{ link: string; card: RendezvousCard }>,
  ) {}

  /**
   * Keeps `card` (an invitation of mine) sealed on its first queue's relay and returns its short
   * link; undefined when that relay keeps no card records or cannot be reached (the long link
   * still works).
   */
  async publish(card: RendezvousCard): Promise<string | undefined> {
    const id = hex(cardId(card));
    const invite = this.ctx.invitesById.get(id);
    if (!invite) return undefined;
    if (invite.short) return invite.short.link;
    const key = this.ctx.rng.bytes(32);
    const ck = generateDhKeyPair(this.ctx.rng);
    const relay = invite.queue.relay;
    let cid: Uint8Array;
    try {
      const r = await this.ctx.connected(relay);
      ({ cid } = await r.putCardRecord(ck.secretKey, sealCardRecord(card, key, this.ctx.rng), card.expires));
    } catch (e) {
      if (e instanceof ParusError && e.code !== 'INTERNAL') return undefined;
      throw e;
    }
    const link = shortLinkToText({ relay, cid, key });
    await this.ctx.lock.run(async () => {
      const now = this.ctx.invitesById.get(id);
      if (!now) return;
      const next: InviteRecord = { ...now, short: { link, relay, cid, ck: ck.secretKey } };
      await this.ctx.store.batch([
        { type: 'put', collection: C.invites, key: id, value: encodeRecord(next) },
      ]);
      this.ctx.invitesById.set(id, next);
    });
    return link;
  }

  /**
   * A link given to me, short or long, as its card: a short one is fetched from its relay and
   * opened with its key. Refusals are the long form's: DecodeError (malformed), VerificationError
   * (not sealed with the link's key, or a forged card), ProtocolError (spent, withdrawn or
   * expired), TransportError or TimeoutError (the relay cannot be reached).
   */
  async resolve(text: string): Promise<ResolvedInvite> {
    let link = text.trim();
    let card: RendezvousCard;
    if (isShortLink(link)) {
      const short = parseShortLink(link);
      let data: Uint8Array;
      // A relay first met through this link is not kept trying for ever when it does not answer.
      const fresh = !this.ctx.relays.has(short.relay);
      try {
        const r = await this.ctx.connected(short.relay, FETCH_TIMEOUT_MS);
        data = await r.getCardRecord(short.cid);
      } catch (e) {
        if (e instanceof NotFoundError || e instanceof ExpiredError)
          throw new ProtocolError('this invitation was already used, withdrawn or has expired', { cause: e });
        if (fresh && e instanceof ParusError && (e.code === 'TRANSPORT' || e.code === 'TIMEOUT')) {
          this.ctx.relays.get(short.relay)?.close();
          this.ctx.relays.delete(short.relay);
        }
        throw e;
      }
      card = openCardRecord(data, short.key);
      link = cardToLink(card);
    } else card = cardFromLink(link);
    const friend = [...this.ctx.contactsById.values()].find(
      (c) => !c.peer && equalBytes(c.theirIdentity, card.identityKey),
    );
    return { link, card, ...(friend ? { friend: friend.alias } : {}) };
  }

  /** Withdraws the record of a spent or reset invitation (best effort: it expires anyway). */
  async withdraw(invite: InviteRecord): Promise<void> {
    const s = invite.short;
    if (!s) return;
    await this.ctx
      .connected(s.relay)
      .then((r) => r.deleteCardRecord(s.cid, s.ck))
      .catch(() => undefined);
  }

  /** My reusable QR code: the current one, or a new one when there is none or it runs out soon. */
  async myCode(): Promise<MyCode> {
    const now = this.ctx.now();
    let code = [...this.ctx.invitesById.values()].find(
      (i) => i.code && !i.used && i.expires - now > CODE_RENEW_MS,
    );
    if (!code) {
      const { card } = await this.makeCard({ oneTime: false });
      const id = hex(cardId(card));
      await this.ctx.lock.run(async () => {
        const i = this.ctx.invitesById.get(id);
        if (!i) return;
        const next: InviteRecord = { ...i, code: true };
        await this.ctx.store.batch([
          { type: 'put', collection: C.invites, key: id, value: encodeRecord(next) },
        ]);
        this.ctx.invitesById.set(id, next);
      });
      code = this.ctx.invitesById.get(id);
      if (!code) throw new ProtocolError('my code was not kept');
    }
    if (!code.short) await this.publish(cardFromLink(code.link));
    const kept = this.ctx.invitesById.get(hex(code.id)) ?? code;
    return { link: kept.short?.link ?? kept.link, longLink: kept.link, expires: kept.expires };
  }

  /**
   * Resets my QR code: the old card is spent (its queues and record deleted, so whoever uses it
   * is refused) and a new one made.
   */
  async resetMyCode(): Promise<MyCode> {
    const old = await this.ctx.lock.run(async () => {
      const codes = [...this.ctx.invitesById.values()].filter((i) => i.code && !i.used);
      for (const i of codes) {
        const next: InviteRecord = { ...i, used: true };
        await this.ctx.store.batch([
          { type: 'put', collection: C.invites, key: hex(i.id), value: encodeRecord(next) },
        ]);
        this.ctx.invitesById.set(hex(i.id), next);
        for (const q of i.queue2 ? [i.queue, i.queue2] : [i.queue]) this.ctx.queues.delete(hex(q.rid));
      }
      return codes;
    });
    for (const i of old) {
      await this.withdraw(i);
      for (const q of i.queue2 ? [i.queue, i.queue2] : [i.queue]) {
        await this.ctx
          .connected(q.relay)
          .then((r) => r.command({ t: 'del', rid: q.rid }, q.rk))
          .catch(() => undefined);
      }
    }
    return this.myCode();
  }
}
