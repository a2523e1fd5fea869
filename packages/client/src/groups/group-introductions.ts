/**
 * Introductions between group members (DESIGN.md "Introductions"), the group engine's part for
 * them, and the background pass that runs them outside the lock (they take the network): the
 * member who joined later makes a one-time card for the other, a member both reach forwards it,
 * and the other answers it. The same pass sends what is owed and the history bundles due
 * (message-catch-up.ts).
 */
import { ProtocolError, QuotaError, cardFromLink, equalBytes, toHex, type GroupState } from '@parus/core';
import type { ContactRecord } from '../records.ts';
import { MAX_GROUP_MEMBERS, type GroupContext, type Loaded, type Tx } from './engine-context.ts';
import { encodeGroupPayload } from './group-wire.ts';
import { WorkMemo } from './link-index.ts';
import type { MessageCatchUp } from './message-catch-up.ts';

/** What introductions use of the engine. */
export type IntroductionContext = Pick<
  GroupContext,
  'host' | 'groups' | 'state' | 'me' | 'linkOf' | 'putRec'
>;

const MAX_FORWARDS = 2 * MAX_GROUP_MEMBERS;
/** A card for a group peer is made again if no session came of it in this time. */
const INTRO_RETRY_MS = 24 * 60 * 60 * 1000;
const hex = toHex;

/** When a held card stops being answerable; one that does not parse (kept by an older version) already has. */
function cardExpires(link: string): number {
  try {
    return cardFromLink(link).expires;
  } catch {
    return 0;
  }
}

/**
 * `list` with room for one more entry: when full, its oldest entry for someone not known here
 * yet makes way (junk from one member cannot crowd out the cards of others); QuotaError when
 * every entry is for someone known.
 */
export function withRoom<T>(list: T[], max: number, unknown: (entry: T) => boolean): T[] {
  if (list.length < max) return list;
  const i = list.findIndex(unknown);
  if (i < 0) throw new QuotaError('too many introductions wait');
  return [...list.slice(0, i), ...list.slice(i + 1)];
}

export class GroupIntroductions {
  private maintaining: Promise<void> | undefined;
  private maintainAgain = false;
  private closed = false;
  /** Per group: the introduction pass that last ran to the end, and on what. */
  private readonly maintained = new WorkMemo<Loaded>();

  constructor(
    private readonly ctx: IntroductionContext,
    private readonly catchUp: MessageCatchUp,
  ) {}

  /** Whether the account closed the engine: background work stops. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops background work (the account closes). */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  /** Whether introduction work is running or due. */
  get busy(): boolean {
    return this.maintaining !== undefined;
  }

  /** Resolves when no introduction work is running. */
  async idle(): Promise<void> {
    while (this.maintaining) await this.maintaining;
  }

  scheduleMaintain(): void {
    if (this.closed) return;
    if (this.maintaining) {
      this.maintainAgain = true;
      return;
    }
    this.maintaining = (async () => {
      do {
        this.maintainAgain = false;
        for (const l of [...this.ctx.groups.values()]) {
          if (this.closed) return;
          await this.maintainGroup(l).catch(() => undefined);
        }
      } while (this.maintainAgain && !this.closed);
    })().finally(() => {
      this.maintaining = undefined;
    });
  }

  /** What the introduction pass depends on: when none of it changed, it has nothing new to do. */
  private maintainInputs(l: Loaded): unknown[] {
    return [l.rec.status, l.rec.links, l.state, l.rec.accept, l.rec.intros, this.ctx.host.contactsVersion()];
  }

  private async maintainGroup(l: Loaded): Promise<void> {
    await this.catchUp.settleOwed(l).catch(() => undefined);
    if (l.rec.status !== 'joined') return;
    const now = this.ctx.host.now();
    const st = this.ctx.state(l);
    // Inputs as they are before this pass: a change made while it runs makes the next one run.
    const inputs = this.maintainInputs(l);
    if (this.maintained.fresh(l, inputs, now)) return;
    const me = this.ctx.me(l).publicKey;
    const mine = st.members.get(hex(me));
    if (!mine) return;
    await this.catchUp.shareHistoryDue(l).catch(() => undefined);
    // A card made earlier whose retry time has not come: the pass is due again then.
    let until = Infinity;
    // Cards forwarded to me: answer them (each answer binds the new session to my key). The
    // state is read again for each: events may have come in while this pass awaited the network.
    for (const a of [...l.rec.accept]) {
      if (this.closed) return;
      const linked = this.ctx.linkOf(l, a.m) !== undefined;
      const member = this.ctx.state(l).members.has(hex(a.m));
      if (!linked && !member) {
        // The card overtook its maker's join (or invitation): it waits for it, until it expires.
        const expires = cardExpires(a.link);
        if (expires > now) {
          until = Math.min(until, expires);
          continue;
        }
      }
      if (!linked && member) {
        try {
          await this.ctx.host.acceptPeerCard(a.link, l.rec.id);
        } catch {
          // expired or already answered: the maker will try again later
        }
      }
      await this.ctx.host.run(async () => {
        const tx: Tx = { ops: [], after: [] };
        const intros = [
          ...l.rec.intros.filter((x) => !equalBytes(x.m, a.m)),
          { m: a.m, at: this.ctx.host.now() },
        ];
        this.ctx.putRec(tx, l, {
          ...l.rec,
          accept: l.rec.accept.filter((x) => !equalBytes(x.m, a.m)),
          intros,
        });
        await this.ctx.host.store.batch(tx.ops);
      });
      this.ctx.host.kick();
    }
    until = Math.min(until, await this.dropExpiredForwards(l, now));
    // Members I joined after and have no session with: I make a card, a member between us forwards it.
    const tries = new Map(l.rec.intros.map((x) => [hex(x.m), x.at]));
    for (const m of st.members.values()) {
      if (this.closed) return;
      if (equalBytes(m.key, me) || this.ctx.linkOf(l, m.key)) continue;
      const newer = mine.joinedAt > m.joinedAt || (mine.joinedAt === m.joinedAt && hex(me) > hex(m.key));
      if (!newer) continue;
      const tried = tries.get(hex(m.key));
      if (tried !== undefined && tried > now - INTRO_RETRY_MS) {
        until = Math.min(until, tried + INTRO_RETRY_MS);
        continue;
      }
      const forwarder = this.forwarder(l, st);
      if (!forwarder) break; // nobody to forward cards yet: a new link or member runs this again
      const link = await this.ctx.host.makePeerCard(l.rec.id);
      await this.ctx.host.run(async () => {
        const tx: Tx = { ops: [], after: [] };
        tx.ops.push(
          this.ctx.host.sendOp(
            forwarder,
            encodeGroupPayload({ t: 'intro', g: l.rec.id, to: m.key, from: me, link }),
          ),
        );
        const intros = [...l.rec.intros.filter((x) => !equalBytes(x.m, m.key)), { m: m.key, at: now }];
        this.ctx.putRec(tx, l, { ...l.rec, intros });
        await this.ctx.host.store.batch(tx.ops);
      });
      until = Math.min(until, now + INTRO_RETRY_MS);
      this.ctx.host.kick();
    }
    this.maintained.done(l, inputs, until);
  }

  /** Who forwards my cards: my inviter while a member, else the earliest member I reach. */
  private forwarder(l: Loaded, st: GroupState): ContactRecord | undefined {
    const me = this.ctx.me(l).publicKey;
    const candidates = l.rec.links
      .filter((x) => !equalBytes(x.m, me) && st.members.has(hex(x.m)))
      .sort((a, b) => {
        const ia = l.rec.inviter && equalBytes(a.c, l.rec.inviter) ? 0 : 1;
        const ib = l.rec.inviter && equalBytes(b.c, l.rec.inviter) ? 0 : 1;
        return ia - ib || st.members.get(hex(a.m))!.joinedAt - st.members.get(hex(b.m))!.joinedAt;
      });
    for (const x of candidates) {
      const c = this.ctx.host.contactById(x.c);
      if (c) return c;
    }
    return undefined;
  }

  /**
   * Cards held for a member I have no session with yet (receiveIntro) that expired on the way
   * are dropped; returns when the next one expires.
   */
  private async dropExpiredForwards(l: Loaded, now: number): Promise<number> {
    let next = Infinity;
    const live = l.rec.forwards.filter((f) => {
      const expires = cardExpires(f.link);
      if (expires > now) next = Math.min(next, expires);
      return expires > now;
    });
    if (live.length < l.rec.forwards.length) {
      await this.ctx.host.run(async () => {
        const tx: Tx = { ops: [], after: [] };
        const kept = new Set(live.map((f) => f.link));
        this.ctx.putRec(tx, l, { ...l.rec, forwards: l.rec.forwards.filter((f) => kept.has(f.link)) });
        await this.ctx.host.store.batch(tx.ops);
      });
    }
    return next;
  }

  /**
   * A card on its way (DESIGN.md "Introductions"): one for me is kept to answer in the next
   * pass; one I am asked to forward goes to its member, or waits for our session. Either may
   * come before the events that make its members known here (a session's sends are reordered
   * when a relay refuses one and takes the next): the answer waits for the maker's join, the
   * forward for a session with the addressee, each bounded and dropped once the card expires.
   */
  receiveIntro(tx: Tx, l: Loaded, sender: Uint8Array, to: Uint8Array, from: Uint8Array, link: string): void {
    try {
      cardFromLink(link);
    } catch (e) {
      throw new ProtocolError('an introduction must carry a card', { cause: e });
    }
    const me = this.ctx.me(l).publicKey;
    const st = this.ctx.state(l);
    const unknown = (k: Uint8Array): boolean => !st.members.has(hex(k)) && !st.invited.has(hex(k));
    if (equalBytes(to, me)) {
      if (equalBytes(from, me) || this.ctx.linkOf(l, from)) return;
      // A newer card from the same maker (made again after the first came to nothing) replaces it.
      const others = l.rec.accept.filter((a) => !equalBytes(a.m, from));
      const kept = withRoom(others, MAX_GROUP_MEMBERS, (a) => unknown(a.m));
      this.ctx.putRec(tx, l, { ...l.rec, accept: [...kept, { m: from, link }] });
      return;
    }
    // I am asked to forward: only a member's own card (its session speaks for it).
    if (!equalBytes(sender, from)) throw new ProtocolError('an introduction must come from its card’s maker');
    const target = this.ctx.linkOf(l, to);
    if (target) {
      tx.ops.push(
        this.ctx.host.sendOp(target, encodeGroupPayload({ t: 'intro', g: l.rec.id, to, from, link })),
      );
      return;
    }
    const others = l.rec.forwards.filter((f) => !(equalBytes(f.to, to) && equalBytes(f.from, from)));
    const kept = withRoom(others, MAX_FORWARDS, (f) => unknown(f.to));
    this.ctx.putRec(tx, l, { ...l.rec, forwards: [...kept, { to, from, link }] });
  }
}
