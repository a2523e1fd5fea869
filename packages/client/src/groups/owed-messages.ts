/**
 * Owed messages (issue 4 §4 "messages are never lost"; docs/decisions/0019): a group message I
 * send reaches the members I have a bound session with. A member I have none with yet (the
 * introduction goes through the inviter, who may be offline) would never get it: when our
 * session comes up I hand over my current sender chain, which cannot open earlier messages.
 * So I keep my own signed envelope of each such message for them, and send it over our 1:1
 * session once it is bound, as history bundles carry authors' envelopes (history-share.ts).
 *
 * - Owed to: the members of my resolved state at the send (with the state-DAG clock of their
 *   join, `j`), and the invited ones (`j` = 0: their join may already be on its way). Messages
 *   from before someone's join are history (decision 0014), so an invitee gets an owed message
 *   only if its time is not before the time of the join that made it a member; a member gets
 *   it only while it is the same membership (a removal and a new join drop it).
 * - Kept in `gowe.<group>`, one record per message: the envelope, its clock and time, and the
 *   member keys still owed it. At most MAX_OWED_MESSAGES records and MAX_OWED_BYTES per group;
 *   beyond either, the oldest (by clock, then time) go first.
 * - Forgotten for a member once sent to them, or when they are neither a member nor invited
 *   (removed, left, banned), or when I am no longer a member.
 */
import {
  asArray,
  asBytes,
  asMap,
  asUint,
  decodeCbor,
  encodeCbor,
  encodeEnvelope,
  equalBytes,
  fromHex,
  toHex,
  type Envelope,
  type GroupState,
} from '@parus/core';
import type { Store, StoreOp } from '../store.ts';
import { MAX_HISTORY_ENVELOPE_BYTES, envelopeChunks } from './history-share.ts';

/** The most owed messages kept per group, and their total stored bytes. */
export const MAX_OWED_MESSAGES = 1000;
export const MAX_OWED_BYTES = 4 * 1024 * 1024;
/** One record's list of members (a group has at most 1,000 members). */
const MAX_OWED_MEMBERS = 1000;

export const OC = {
  owed: (g: Uint8Array) => `gowe.${toHex(g)}`,
} as const;

/** A member an owed message waits for: `j` the state clock of their join then, 0 if invited then. */
export interface OwedTo {
  m: Uint8Array;
  j: number;
}

export interface OwedRecord {
  e: Uint8Array;
  lamport: number;
  ts: number;
  to: OwedTo[];
}

export function encodeOwed(r: OwedRecord): Uint8Array {
  return encodeCbor({ e: r.e, l: r.lamport, ts: r.ts, to: r.to.map((x) => ({ m: x.m, j: x.j })) });
}

/** Strict; a DecodeError for anything else. */
export function decodeOwed(bytes: Uint8Array): OwedRecord {
  const m = asMap(decodeCbor(bytes), 'owed message');
  return {
    e: asBytes(m.e, 'envelope', { max: MAX_HISTORY_ENVELOPE_BYTES }),
    lamport: asUint(m.l, 'lamport'),
    ts: asUint(m.ts, 'ts'),
    to: asArray(m.to, 'owed to', MAX_OWED_MEMBERS).map((x) => {
      const t = asMap(x, 'owed member');
      return { m: asBytes(t.m, 'member', { len: 32 }), j: asUint(t.j, 'join clock') };
    }),
  };
}

/** Whom a message I send now is owed to: members and invitees other than me with no usable session. */
export function owedRecipients(
  st: GroupState,
  me: Uint8Array,
  linked: (member: Uint8Array) => boolean,
): OwedTo[] {
  const to: OwedTo[] = [];
  for (const m of st.members.values())
    if (!equalBytes(m.key, me) && !linked(m.key)) to.push({ m: m.key, j: m.joinedAt });
  for (const key of st.invited) {
    const member = fromHex(key);
    if (!equalBytes(member, me) && !st.members.has(key) && !linked(member)) to.push({ m: member, j: 0 });
  }
  return to;
}

interface Summary {
  size: number;
  lamport: number;
  ts: number;
}

function older(a: [string, Summary], b: [string, Summary]): number {
  return a[1].lamport - b[1].lamport || a[1].ts - b[1].ts || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

/** What the session with a member lets me do now with what I owe them. */
export interface OwedView {
  /** My own membership stands (otherwise everything owed is dropped). */
  joined: boolean;
  st: GroupState;
  /** The time (`ts`) of the admitted join that made `member` a member at state clock `joinedAt`. */
  joinTime(member: Uint8Array, joinedAt: number): number | undefined;
  /** Whether our session is bound and usable. */
  linked(member: Uint8Array): boolean;
}

/** What to send: per member (hex key), their owed envelopes in causal (clock) order, in chunks. */
export interface OwedPlan {
  ops: StoreOp[];
  sends: Array<{ member: Uint8Array; chunks: Uint8Array[][] }>;
  after: () => void;
}

/**
 * The owed records of every group, with a summary (size, clock, time per record) kept in memory
 * once a group's were read, so a send does not list them. Its updates go in `after` callbacks,
 * run once the batch that holds the operations is stored.
 */
export class OwedMessages {
  private readonly summaries = new Map<string, Map<string, Summary>>();

  constructor(private readonly store: Store) {}

  private async summary(group: Uint8Array): Promise<Map<string, Summary>> {
    const g = toHex(group);
    const known = this.summaries.get(g);
    if (known) return known;
    const map = new Map<string, Summary>();
    for (const { key, value } of await this.store.list(OC.owed(group))) {
      try {
        const r = decodeOwed(value);
        map.set(key, { size: value.length, lamport: r.lamport, ts: r.ts });
      } catch {
        map.set(key, { size: value.length, lamport: 0, ts: 0 }); // damaged: the first to go
      }
    }
    if (!this.summaries.has(g)) this.summaries.set(g, map);
    return this.summaries.get(g)!;
  }

  /** Whether anything is owed in `group`. */
  async any(group: Uint8Array): Promise<boolean> {
    return (await this.summary(group)).size > 0;
  }

  /**
   * Keeps `env` for the members in `to`; drops the oldest records beyond MAX_OWED_MESSAGES or
   * MAX_OWED_BYTES. Nothing if `to` is empty or the envelope is larger than one may be passed on.
   */
  async owe(group: Uint8Array, env: Envelope, to: OwedTo[]): Promise<{ ops: StoreOp[]; after: () => void }> {
    const none = { ops: [], after: () => undefined };
    if (to.length === 0) return none;
    const e = encodeEnvelope(env);
    if (e.length > MAX_HISTORY_ENVELOPE_BYTES) return none;
    const value = encodeOwed({ e, lamport: env.lamport, ts: env.ts, to });
    const key = toHex(env.id);
    const col = OC.owed(group);
    const summary = await this.summary(group);
    const entry: Summary = { size: value.length, lamport: env.lamport, ts: env.ts };
    const next = new Map(summary);
    next.set(key, entry);
    const ops: StoreOp[] = [{ type: 'put', collection: col, key, value }];
    let count = next.size;
    let bytes = 0;
    for (const s of next.values()) bytes += s.size;
    const drop: string[] = [];
    for (const [k, s] of [...next].sort(older)) {
      if (count <= MAX_OWED_MESSAGES && bytes <= MAX_OWED_BYTES) break;
      drop.push(k);
      count--;
      bytes -= s.size;
    }
    for (const k of drop) ops.push({ type: 'del', collection: col, key: k });
    return {
      ops: drop.includes(key) ? ops.filter((o) => o.key !== key) : ops,
      after: () => {
        if (!drop.includes(key)) summary.set(key, entry);
        for (const k of drop) summary.delete(k);
      },
    };
  }

  /**
   * Goes through what `group` owes: envelopes for members whose session is usable now are sent
   * (and forgotten for them), members who are neither members nor invited any more, or whose
   * membership is not the one the message was owed to, are dropped.
   */
  async plan(group: Uint8Array, view: OwedView): Promise<OwedPlan> {
    const col = OC.owed(group);
    const summary = await this.summary(group);
    const ops: StoreOp[] = [];
    const gone: string[] = [];
    const kept = new Map<string, Summary>();
    const out = new Map<string, { member: Uint8Array; list: OwedRecord[] }>();
    for (const { key, value } of await this.store.list(col)) {
      let r: OwedRecord;
      try {
        r = decodeOwed(value);
      } catch {
        ops.push({ type: 'del', collection: col, key });
        gone.push(key);
        continue;
      }
      const left: OwedTo[] = [];
      for (const t of view.joined ? r.to : []) {
        const hex = toHex(t.m);
        const member = view.st.members.get(hex);
        if (!member) {
          if (view.st.invited.has(hex) && t.j === 0) left.push(t); // their join may still come
          continue;
        }
        if (t.j !== 0 && member.joinedAt !== t.j) continue; // another membership than then
        if (t.j === 0) {
          const since = view.joinTime(t.m, member.joinedAt);
          if (since === undefined || r.ts < since) continue; // from before their join: history
        }
        if (!view.linked(t.m)) {
          left.push(t);
          continue;
        }
        const o = out.get(hex) ?? { member: t.m, list: [] };
        o.list.push(r);
        out.set(hex, o);
      }
      if (left.length === r.to.length) continue;
      if (left.length === 0) {
        ops.push({ type: 'del', collection: col, key });
        gone.push(key);
      } else {
        const v = encodeOwed({ ...r, to: left });
        ops.push({ type: 'put', collection: col, key, value: v });
        kept.set(key, { size: v.length, lamport: r.lamport, ts: r.ts });
      }
    }
    const sends = [...out.values()].map(({ member, list }) => ({
      member,
      chunks: envelopeChunks(list.sort((a, b) => a.lamport - b.lamport || a.ts - b.ts).map((r) => r.e)),
    }));
    return {
      ops,
      sends,
      after: () => {
        for (const k of gone) summary.delete(k);
        for (const [k, s] of kept) summary.set(k, s);
      },
    };
  }
}
