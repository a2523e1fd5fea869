/**
 * Short room links (decision 0059), the account's part: the signed room link of my door stays
 * sealed on the door card's relay as a card record (core short-invitation.ts), so that what I
 * hand out, `parus:r/…`, carries only the relay, the record's id and the key, and its QR code
 * stays small; a short room link I am given is fetched and opened back into the long one. A
 * rotated door withdraws the record of its old link.
 */
import {
  ExpiredError,
  NotFoundError,
  ParusError,
  ProtocolError,
  asBytes,
  asMap,
  asText,
  decodeCbor,
  encodeCbor,
  generateDhKeyPair,
  isShortRoomLink,
  openRoomRecord,
  parseRoomLink,
  parseShortRoomLink,
  sealRoomRecord,
  shortRoomLinkToText,
} from '@parus/core';
import type { AccountContext } from './account-context.ts';

export type ShortRoomLinkContext = Pick<AccountContext, 'store' | 'rng' | 'lock' | 'connected' | 'relays'>;

/** A room link as shown: the short one when the door's relay keeps card records, else the long one. */
export interface RoomLinkPair {
  link: string;
  longLink: string;
}

/** The store collection: per group (hex id), the short link of my door's current room link. */
export const ROOM_SHORT_COLLECTION = 'roomshort';

/** How long fetching a short link waits for its relay (as for short invitations). */
const FETCH_TIMEOUT_MS = 10_000;

interface Kept {
  /** The long room link this record seals. */
  long: string;
  link: string;
  relay: string;
  cid: Uint8Array;
  /** The record owner's X25519 secret key (withdrawing it). */
  ck: Uint8Array;
}

function encodeKept(k: Kept): Uint8Array {
  return encodeCbor({ long: k.long, link: k.link, relay: k.relay, cid: k.cid, ck: k.ck });
}

function decodeKept(bytes: Uint8Array): Kept {
  const m = asMap(decodeCbor(bytes), 'short room link record');
  return {
    long: asText(m.long, 'long', 64 * 1024),
    link: asText(m.link, 'link', 1024),
    relay: asText(m.relay, 'relay', 1024),
    cid: asBytes(m.cid, 'cid', { len: 16 }),
    ck: asBytes(m.ck, 'ck', { len: 32 }),
  };
}

export class ShortRoomLinks {
  constructor(private readonly ctx: ShortRoomLinkContext) {}

  /**
   * The short form of `long`, my door's current room link of `group` (hex): the kept one, or a
   * new record on the door card's relay. A record kept for an earlier link (a rotated door) is
   * withdrawn first. The long link alone when the relay keeps no records or cannot be reached.
   */
  async forDoor(group: string, long: string): Promise<RoomLinkPair> {
    const raw = await this.ctx.store.get(ROOM_SHORT_COLLECTION, group);
    const kept = raw ? decodeKept(raw) : undefined;
    if (kept?.long === long) return { link: kept.link, longLink: long };
    if (kept) {
      await this.withdraw(kept);
      await this.ctx.lock.run(() =>
        this.ctx.store.batch([{ type: 'del', collection: ROOM_SHORT_COLLECTION, key: group }]),
      );
    }
    const door = parseRoomLink(long).door;
    const relay = door.queue.relay;
    const key = this.ctx.rng.bytes(32);
    const ck = generateDhKeyPair(this.ctx.rng);
    let cid: Uint8Array;
    try {
      const data = sealRoomRecord(long, key, this.ctx.rng);
      const r = await this.ctx.connected(relay);
      ({ cid } = await r.putCardRecord(ck.secretKey, data, door.expires));
    } catch (e) {
      if (e instanceof ParusError && e.code !== 'INTERNAL') return { link: long, longLink: long };
      throw e;
    }
    const link = shortRoomLinkToText({ relay, cid, key });
    const next: Kept = { long, link, relay, cid, ck: ck.secretKey };
    await this.ctx.lock.run(() =>
      this.ctx.store.batch([
        { type: 'put', collection: ROOM_SHORT_COLLECTION, key: group, value: encodeKept(next) },
      ]),
    );
    return { link, longLink: long };
  }

  /**
   * A room link given to me, short or long, as the long one: a short one is fetched from its
   * relay and opened with its key. Refusals are the long form's: DecodeError (malformed),
   * VerificationError (not sealed with the link's key, or a forged room link), ProtocolError
   * (withdrawn by a rotation, or expired), TransportError or TimeoutError (unreachable).
   */
  async resolve(text: string): Promise<string> {
    const link = typeof text === 'string' ? text.trim() : text;
    if (!isShortRoomLink(link)) {
      parseRoomLink(link);
      return link;
    }
    const short = parseShortRoomLink(link);
    // A relay first met through this link is not kept trying for ever when it does not answer.
    const fresh = !this.ctx.relays.has(short.relay);
    let data: Uint8Array;
    try {
      const r = await this.ctx.connected(short.relay, FETCH_TIMEOUT_MS);
      data = await r.getCardRecord(short.cid);
    } catch (e) {
      if (e instanceof NotFoundError || e instanceof ExpiredError)
        throw new ProtocolError('this room link was withdrawn or has expired', { cause: e });
      if (fresh && e instanceof ParusError && (e.code === 'TRANSPORT' || e.code === 'TIMEOUT')) {
        this.ctx.relays.get(short.relay)?.close();
        this.ctx.relays.delete(short.relay);
      }
      throw e;
    }
    return openRoomRecord(data, short.key);
  }

  /** Withdraws a record (best effort: it expires with the door card anyway). */
  private async withdraw(k: Kept): Promise<void> {
    await this.ctx
      .connected(k.relay)
      .then((r) => r.deleteCardRecord(k.cid, k.ck))
      .catch(() => undefined);
  }
}
