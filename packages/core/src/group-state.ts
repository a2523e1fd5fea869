/**
 * Group state resolution (issue 4; docs/decisions/0009-group-state-resolution.md, 0021 for the
 * order of power events): from a set of signed state events (group-event.ts) to the members,
 * roles, bans, invitations, settings, name, topic, avatar, pinned announcement, nicks and
 * statuses every member agrees on. It follows the ideas of Matrix state resolution v2
 * (spec.matrix.org, room versions, "State resolution v2"): authorisation against the state at an
 * event's parents, power events first in a power ordering, then the other events re-checked
 * against the resolved power ("iterative auth checks"). It is simpler than Matrix's because our
 * state is one DAG of events, not state maps joined at forks.
 *
 * Vocabulary. Power events ("phase 1"): invite, join, leave, kick, ban, unban, role, settings —
 * everything that decides who may do what. Matrix counts only kicks, bans, power levels and join
 * rules as power events; we add invite, join and leave because whether a role change or a kick is
 * allowed depends on membership. Display events ("phase 2"): topic, name, avatar, pin, nick,
 * status — nothing's authorisation depends on them. The create event is the base of both.
 * power(key) is 100 for the creator, 75 admin, 50 moderator, 0 member (GROUP_ROLE_POWER), and
 * 0 for a non-member, except that the creator key keeps 100 as a target even after leaving, so it
 * cannot be banned out of its own group.
 *
 * Algorithm, for a set of events E:
 *  1. Admission. Each event is checked as decodeGroupEvent checks bytes (checkGroupEvent: id,
 *     signature, content): else rejected as `forged` or `malformed`. Copies of one id count once.
 *     The group is `opts.group`, or that of the create events present (ProtocolError when there
 *     is none, or several groups); events of another group are `other-group`. The group id is
 *     bound to its whole create (group-event.ts, docs/decisions/0022), so a group has one; two
 *     creates of one group (a group made before that binding, whose creator signed a second with
 *     its nonce) are a ProtocolError, never a swap of history. Events are sorted by (Lamport,
 *     id), a topological order since a clock must exceed its parents' (else `clock`); so must
 *     it stay within MAX_GROUP_LAMPORT_JUMP of the largest (else `clock`: a clock near 2^53
 *     would leave no room for the next event). An event whose parent is absent or was refused
 *     at this step is `orphan` — so every admitted event descends from the create.
 *  2. State at parents. For an admitted event e, P(e) is the set of power events among its strict
 *     ancestors, and stateAt(e) = Phase1(P(e)). e is authorised at its parents when its author
 *     may do what it says in stateAt(e) (rules below); else it is `unauthorised`, whatever
 *     happens later. authorPower(e) is the author's power in stateAt(e).
 *  3. Phase1(D), for a set D of power events closed under ancestry: start from the create's state
 *     (the creator as sole member, the create's settings) and walk D in the power order: the
 *     first pending event by priority — the highest authorPower, then the lowest Lamport clock,
 *     then the smallest id (Matrix's power ordering, with Lamport for origin_server_ts) — goes
 *     next, after its pending power ancestors, which go first in the same way among themselves.
 *     So an event waits only for what it descends from, and takes it along: an unrelated
 *     low-power event (a newcomer's join the ban happens to descend from) never lets a weaker
 *     concurrent event in first; a weaker event goes before a stronger concurrent one only when
 *     something at least as strong descends from it (docs/decisions/0021). The order is
 *     topological, so an event's own downset ends with it. An event is applied if it was
 *     authorised at its parents and is still authorised in the state built so far; else it is
 *     a `conflict` (e.g. a ban of a member a higher-powered author promoted concurrently). When
 *     two concurrent power events both stay authorised (two settings changes, two role changes
 *     of one member), the one applied later stands, as in Matrix. The resolved power state is
 *     Phase1(all admitted power events).
 *  4. Display events: each one e is applied if authorised at its parents and in view(e),
 *     the resolved power state without the power events that descend from e (so a concurrent
 *     kick or demotion defeats it, a later one does not undo it); else `conflict`.
 *  5. Registers. Each display field (name, topic, avatar, pin, and each member's nick and status)
 *     takes the value of one applied event writing it: among the writes no other write of that
 *     field descends from, the one by the highest authorPower, then the highest Lamport clock,
 *     then the smallest id. A nick or status counts only if made during the author's current
 *     membership (it descends from the join that made them a member).
 *  6. Heads and clock: the accepted events (the create, applied power and display events) of
 *     which no accepted event descends, and the largest accepted clock. A refused event, whatever
 *     clock it claims, moves neither, so nobody can push the next event's clock out of reach.
 *
 * Rules (each check reads the state it is given; required power per action from the settings):
 *  join: not a member, not banned, and invited or the group public. leave: a member or invited
 *  (declining). Every other event needs a member author. invite: power ≥ invite; target neither
 *  member, banned nor already invited. kick: power ≥ kick; target a member or invited, not the
 *  author, power(target) < power(author). ban: power ≥ ban; target not the author, not banned,
 *  power(target) < power(author). unban: power ≥ unban; target banned. role: power ≥ role; target
 *  a member, not the author, power(target) < power(author), the new role's power ≤ the author's,
 *  and a change; or on oneself, a lower role than one's own, whatever power `role` needs (the
 *  creator's role comes with the create and stays). settings: power ≥ settings; every required power it changes is ≤ the author's
 *  power before and after (Matrix's power-levels rule). topic, name, avatar, pin: power ≥ that
 *  action. nick, status: a member.
 *
 * The result depends only on the set of events, never on their order or on duplicates: every step
 * above sorts or keys by content. Cost: a signature check only for event objects this code did not
 * decode or create (checkGroupEvent); stateAt is shared by the events with the same maximal power
 * ancestors and extended in place along a chain, so a fork merge costs one walk over the power
 * events and the rest is linear; bit sets of n × (power events + display fields) bits answer the
 * ancestry questions, and per power level the walk finds the next event by scanning words of
 * them (the ancestors of one event lie below its position). A 1,000-member room of 2,100 events
 * with 100 merges took about 60 ms (best of 15 runs, one core, idle) with the former Kahn walk;
 * `bench/group-state-bench.ts` ran the two walks side by side on a busy shared machine at the
 * same cost within noise: best of 15, 74–79 ms of CPU before and 77–89 ms now. An incremental
 * resolution (from a checkpoint) is left for later.
 */
import { compareBytes, equalBytes, toHex } from './bytes.ts';
import { InternalError, ParusError, ProtocolError, UsageError, VerificationError } from './errors.ts';
import {
  GROUP_ACTIONS,
  GROUP_EVENT_ID_BYTES,
  GROUP_ID_BYTES,
  GROUP_ROLE_POWER,
  checkGroupEvent,
  memberKeyCommitment,
  type GroupAction,
  type GroupEvent,
  type GroupEventOf,
  type GroupPin,
  type GroupRole,
  type GroupSettings,
  type GroupStatus,
} from './group-event.ts';

/**
 * How far an event's clock may run ahead of its parents'. A clock near 2^53 would leave the
 * group no room for the next event (issue 11), so a larger jump is refused as `clock`.
 */
export const MAX_GROUP_LAMPORT_JUMP = 1_000_000;

export interface GroupMember {
  readonly key: Uint8Array;
  readonly role: GroupRole;
  /** The Lamport clock of the event that made them a member (0 for the creator's create). */
  readonly joinedAt: number;
  readonly nick?: string;
  readonly status?: GroupStatus;
}

export type GroupRejectionReason =
  | 'malformed'
  | 'forged'
  | 'other-group'
  | 'orphan'
  | 'clock'
  | 'unauthorised'
  | 'conflict';

export interface GroupRejection {
  readonly id: Uint8Array;
  readonly reason: GroupRejectionReason;
  /** What was wrong, for logs and UIs (never a secret). */
  readonly detail: string;
}

export interface GroupState {
  readonly group: Uint8Array;
  /** The id of the create event. */
  readonly create: Uint8Array;
  readonly creator: Uint8Array;
  /** By hex member key, in key order. */
  readonly members: ReadonlyMap<string, GroupMember>;
  /** Hex keys invited and not yet joined. */
  readonly invited: ReadonlySet<string>;
  /** Hex keys banned. */
  readonly banned: ReadonlySet<string>;
  readonly name: string;
  readonly topic: string;
  readonly avatar: Uint8Array | null;
  readonly pinned: GroupPin | null;
  readonly settings: GroupSettings;
  /**
   * Accepted events (the create, and events not in `rejected`) of which no accepted event
   * descends, sorted: the next event's parents. A refused event is never one.
   */
  readonly heads: readonly Uint8Array[];
  /** The largest accepted Lamport clock: the next event takes one more. */
  readonly lamport: number;
  /** Every event that does not count, sorted by id. */
  readonly rejected: readonly GroupRejection[];
}

/** A member's power in a resolved state (0 for a non-member). */
export function groupMemberPower(state: GroupState, key: Uint8Array): number {
  const member = state.members.get(toHex(key));
  return member === undefined ? 0 : GROUP_ROLE_POWER[member.role];
}

/** Whether `key` is a member with the power the group requires for `action`. */
export function groupCan(state: GroupState, key: Uint8Array, action: GroupAction): boolean {
  return state.members.has(toHex(key)) && groupMemberPower(state, key) >= state.settings.power[action];
}

// ---- Internals -----------------------------------------------------------------------------

/** A map key for an event id: one UTF-16 unit per byte, far cheaper than hex (message-dag.ts). */
function idKey(id: Uint8Array): string {
  return String.fromCharCode.apply(null, id as unknown as number[]);
}

const POWER_TYPES: ReadonlySet<string> = new Set([
  'invite',
  'join',
  'leave',
  'kick',
  'ban',
  'unban',
  'role',
  'settings',
  'rekey',
]);

/** A fixed-size bit set. */
class Bits {
  readonly words: Uint32Array;
  constructor(size: number) {
    this.words = new Uint32Array((size + 31) >>> 5);
  }
  has(i: number): boolean {
    return (this.words[i >>> 5]! & (1 << (i & 31))) !== 0;
  }
  add(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }
  addAll(other: Bits): void {
    for (let k = 0; k < this.words.length; k++) this.words[k]! |= other.words[k]!;
  }
  delete(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
  }
  intersects(other: Bits): boolean {
    for (let k = 0; k < this.words.length; k++) if ((this.words[k]! & other.words[k]!) !== 0) return true;
    return false;
  }
  /** The smallest i in this set (and in `mask`, if given) among words from..to, or -1. */
  lowest(from: number, to: number, mask?: Bits): number {
    for (let k = from; k <= to && k < this.words.length; k++) {
      const w = mask === undefined ? this.words[k]! : this.words[k]! & mask.words[k]!;
      if (w !== 0) return (k << 5) + 31 - Math.clz32(w & -w);
    }
    return -1;
  }
}

/** An admitted event in the DAG. */
interface Node {
  readonly event: GroupEvent;
  readonly index: number;
  readonly author: string; // hex
  /** The member the event acts on (invite, kick, ban, unban, role), hex; '' otherwise. */
  readonly target: string;
  readonly parents: readonly number[];
  readonly children: number[];
  /** Position among the power events, or -1 (display events and the create). */
  readonly p: number;
  /** Power events among the strict ancestors, by position. */
  readonly powerAnc: Bits;
  /** The maximal ones, ascending positions. */
  readonly powerHeads: readonly number[];
  /** Why it is not authorised at its parents, or null. */
  refused: string | null;
  /** The author's power at its parents. */
  power: number;
}

interface AuthMember {
  readonly key: Uint8Array;
  readonly role: GroupRole;
  readonly joinedAt: number;
  /** The node that made them a member. */
  readonly join: number;
  /** Their pre-rotation commitment (docs/decisions/0040): only the key it names may replace theirs. */
  readonly next?: Uint8Array;
}

/** The power state: what authorisation reads. Snapshots are never changed once shared. */
interface AuthState {
  members: Map<string, AuthMember>;
  invited: Map<string, Uint8Array>;
  banned: Map<string, Uint8Array>;
  settings: GroupSettings;
}

/** The author powers a power event can have at its parents, highest first (phase1's order). */
const POWER_LEVELS: readonly number[] = [...new Set([0, ...Object.values(GROUP_ROLE_POWER)])].sort(
  (a, b) => b - a,
);

interface Context {
  readonly nodes: readonly Node[];
  /** Node index of each power event, by position. */
  readonly powerNodes: readonly number[];
  /** Power events by the author's power at their parents (POWER_LEVELS order), by position. */
  readonly levels: readonly Bits[];
  readonly creator: string;
  readonly base: AuthState;
}

function copyAuth(s: AuthState): AuthState {
  return {
    members: new Map(s.members),
    invited: new Map(s.invited),
    banned: new Map(s.banned),
    settings: s.settings,
  };
}

function targetOf(event: GroupEvent): Uint8Array | undefined {
  switch (event.type) {
    case 'invite':
    case 'kick':
    case 'ban':
    case 'unban':
    case 'role':
      return event.content.member;
    case 'rekey':
      return event.content.key;
    default:
      return undefined;
  }
}

/** power(key) of the header: role power for a member; 100 for the creator key, 0 otherwise. */
function powerOf(ctx: Context, s: AuthState, key: string): number {
  const member = s.members.get(key);
  if (member !== undefined) return GROUP_ROLE_POWER[member.role];
  return key === ctx.creator ? GROUP_ROLE_POWER.creator : 0;
}

/** The rules of the header: null when `node` may happen in `s`, else why not. */
function authorise(ctx: Context, s: AuthState, node: Node): string | null {
  const e = node.event;
  const author = node.author;
  const member = s.members.get(author);
  if (e.type === 'create') return 'a group has one create event';
  if (e.type === 'join') {
    if (member !== undefined) return 'already a member';
    if (s.banned.has(author)) return 'banned';
    if (!s.settings.public && !s.invited.has(author)) return 'not invited to a private group';
    return null;
  }
  if (e.type === 'leave') return member !== undefined || s.invited.has(author) ? null : 'not a member';
  if (member === undefined) return 'author is not a member';
  if (e.type === 'rekey') {
    // Pre-rotation (docs/decisions/0040): a thief of the current key cannot name a key of theirs.
    if (member.next === undefined) return 'no commitment to a next member key';
    if (!equalBytes(memberKeyCommitment(e.content.key), member.next)) return 'not the committed next key';
    const key = node.target;
    if (s.members.has(key) || s.invited.has(key) || s.banned.has(key) || key === ctx.creator)
      return 'the new key is in use';
    return null;
  }
  const own = GROUP_ROLE_POWER[member.role];
  if (e.type === 'nick' || e.type === 'status') return null;
  if (e.type === 'role' && node.target === author) {
    // Stepping down needs no power; the creator's role comes with the create and stays.
    if (member.role === 'creator') return 'the creator’s role cannot change';
    return GROUP_ROLE_POWER[e.content.role] < own ? null : 'one may only lower one’s own role';
  }
  const action: GroupAction = e.type;
  const required = s.settings.power[action];
  if (own < required) return `${action} needs power ${required}, author has ${own}`;

  const target = node.target;
  const outranks = (): string | null =>
    powerOf(ctx, s, target) < own ? null : 'target has at least the power of the author';
  switch (e.type) {
    case 'invite':
      if (s.members.has(target)) return 'already a member';
      if (s.banned.has(target)) return 'banned';
      return s.invited.has(target) ? 'already invited' : null;
    case 'kick':
      if (target === author) return 'cannot kick oneself (leave instead)';
      if (!s.members.has(target) && !s.invited.has(target)) return 'neither a member nor invited';
      return outranks();
    case 'ban':
      if (target === author) return 'cannot ban oneself';
      if (s.banned.has(target)) return 'already banned';
      return outranks();
    case 'unban':
      return s.banned.has(target) ? null : 'not banned';
    case 'role': {
      const current = s.members.get(target);
      if (current === undefined) return 'not a member';
      if (GROUP_ROLE_POWER[e.content.role] > own) return 'cannot raise anyone above oneself';
      if (current.role === e.content.role) return 'role unchanged';
      return outranks();
    }
    case 'settings':
      for (const a of GROUP_ACTIONS) {
        const before = s.settings.power[a];
        const after = e.content.settings.power[a];
        if (before !== after && (before > own || after > own))
          return `cannot change the power for ${a} beyond one’s own`;
      }
      return null;
    default:
      return null; // topic, name, avatar, pin: the power check above
  }
}

/** Applies a power event's effect, without checks (callers have checked it). */
function applyPower(ctx: Context, s: AuthState, node: Node): void {
  const e = node.event;
  switch (e.type) {
    case 'join':
      s.members.set(node.author, {
        key: e.author,
        role: node.author === ctx.creator ? 'creator' : 'member',
        joinedAt: e.lamport,
        join: node.index,
        ...(e.content.next ? { next: e.content.next } : {}),
      });
      s.invited.delete(node.author);
      return;
    case 'leave':
      s.members.delete(node.author);
      s.invited.delete(node.author);
      return;
    case 'invite':
      s.invited.set(node.target, e.content.member);
      return;
    case 'kick':
      s.members.delete(node.target);
      s.invited.delete(node.target);
      return;
    case 'ban':
      s.members.delete(node.target);
      s.invited.delete(node.target);
      s.banned.set(node.target, e.content.member);
      return;
    case 'unban':
      s.banned.delete(node.target);
      return;
    case 'role': {
      const current = s.members.get(node.target);
      if (current !== undefined) s.members.set(node.target, { ...current, role: e.content.role });
      return;
    }
    case 'settings':
      s.settings = e.content.settings;
      return;
    case 'rekey': {
      // The same member under its next key: role and membership carry over.
      const current = s.members.get(node.author);
      if (current === undefined) return;
      s.members.delete(node.author);
      s.members.set(node.target, { ...current, key: e.content.key, next: e.content.next });
      return;
    }
    default:
      return;
  }
}

/**
 * Phase1(D) of the header (step 3) for the power events D (closed under ancestry; null: all).
 * The order: the first pending event by priority (higher author power at its parents, then lower
 * Lamport clock, then smaller id) goes next, once its pending ancestors have gone, each of them
 * chosen the same way among them. Positions follow (Lamport, id), so within one power level the
 * lowest pending position is the first by priority. `report` hears each event's fate: null when
 * applied, else why not (`refusedAtParents` tells which).
 */
function phase1(
  ctx: Context,
  within: Bits | null,
  report?: (p: number, why: string | null, refusedAtParents: boolean) => void,
): AuthState {
  const state = copyAuth(ctx.base);
  const pending = ctx.levels.map((level) => {
    const bits = new Bits(ctx.powerNodes.length);
    for (let k = 0; k < bits.words.length; k++)
      bits.words[k] = within === null ? level.words[k]! : level.words[k]! & within.words[k]!;
    return bits;
  });
  const lastWord = (ctx.powerNodes.length - 1) >>> 5;
  const from = new Array<number>(pending.length).fill(0); // words below are empty, per level
  /** The first pending event by priority: among the ancestors of `p` when given, else all. */
  const first = (p?: number): number => {
    const node = p === undefined ? undefined : ctx.nodes[ctx.powerNodes[p]!]!;
    for (let l = 0; l < pending.length; l++) {
      const bits = pending[l]!;
      while (from[l]! <= lastWord && bits.words[from[l]!] === 0) from[l]!++;
      const found =
        node === undefined
          ? bits.lowest(from[l]!, lastWord)
          : bits.lowest(from[l]!, (p! - 1) >>> 5, node.powerAnc);
      if (found >= 0 && (p === undefined || found < p)) return found;
    }
    return -1;
  };
  const levelOf = (p: number): Bits => pending[POWER_LEVELS.indexOf(ctx.nodes[ctx.powerNodes[p]!]!.power)]!;
  // A stack of events waiting for their ancestors: each is the first pending ancestor of the one below.
  const waiting: number[] = [];
  for (;;) {
    const top = waiting[waiting.length - 1];
    const next = top === undefined ? first() : first(top);
    if (next >= 0) {
      waiting.push(next);
      continue;
    }
    if (top === undefined) break;
    waiting.pop();
    levelOf(top).delete(top);
    const node = ctx.nodes[ctx.powerNodes[top]!]!;
    if (node.refused !== null) {
      report?.(top, node.refused, true);
    } else {
      const why = authorise(ctx, state, node);
      if (why === null) applyPower(ctx, state, node);
      report?.(top, why, false);
    }
  }
  return state;
}

interface Admitted {
  events: GroupEvent[];
  rejected: Map<string, GroupRejection>;
  create: GroupEventOf<'create'>;
}

const REASON_ORDER: readonly GroupRejectionReason[] = [
  'forged',
  'malformed',
  'other-group',
  'orphan',
  'clock',
  'unauthorised',
  'conflict',
];

function reject(
  rejected: Map<string, GroupRejection>,
  id: Uint8Array,
  reason: GroupRejectionReason,
  detail: string,
): void {
  const key = idKey(id);
  const previous = rejected.get(key);
  // Several refused copies of one id: keep one by a fixed order, so input order does not matter.
  if (
    previous !== undefined &&
    (REASON_ORDER.indexOf(previous.reason) < REASON_ORDER.indexOf(reason) ||
      (previous.reason === reason && previous.detail <= detail))
  ) {
    return;
  }
  rejected.set(key, { id: id.slice(), reason, detail });
}

/** Step 1 up to the group and the create: verified, deduplicated events of one group. */
function admit(events: readonly GroupEvent[], group: Uint8Array | undefined): Admitted {
  const rejected = new Map<string, GroupRejection>();
  const valid = new Map<string, GroupEvent>();
  for (const input of events) {
    let id: unknown;
    try {
      id = input?.id;
    } catch {
      id = undefined; // a getter that throws: not an event
    }
    if (!(id instanceof Uint8Array) || id.length !== GROUP_EVENT_ID_BYTES) {
      throw new UsageError('events must be group events with 32-byte ids');
    }
    let event: GroupEvent;
    try {
      // Everything a peer's bytes would be checked for (at no cost for decoded events).
      event = checkGroupEvent(input);
    } catch (error) {
      if (!(error instanceof ParusError)) throw error;
      reject(rejected, input.id, error instanceof VerificationError ? 'forged' : 'malformed', error.message);
      continue;
    }
    const key = idKey(event.id);
    const other = valid.get(key);
    // Two valid copies differ at most in their signature: keep the smaller one.
    if (other === undefined || compareBytes(event.sig, other.sig) < 0) valid.set(key, event);
  }
  for (const key of valid.keys()) rejected.delete(key); // a valid copy makes forged ones moot

  const creates = [...valid.values()].filter((e): e is GroupEventOf<'create'> => e.type === 'create');
  if (group === undefined) {
    const groups = new Set(creates.map((e) => toHex(e.group)));
    if (groups.size > 1) throw new ProtocolError('events of several groups: name the group');
    group = creates[0]?.group;
    if (group === undefined) throw new ProtocolError('no create event');
  }
  const ours = creates.filter((e) => equalBytes(e.group, group));
  const create = ours[0];
  if (create === undefined) throw new ProtocolError('no create event for the group');
  // Two creates of one group: a create made before docs/decisions/0022 whose creator signed
  // another with its nonce (or a BLAKE2b collision). Neither may replace the history of the
  // other, so the group does not resolve; clients keep the first create they hold.
  if (ours.length > 1) throw new ProtocolError('two create events claim the group');

  const admitted: GroupEvent[] = [];
  for (const event of valid.values()) {
    if (!equalBytes(event.group, group)) reject(rejected, event.id, 'other-group', 'event of another group');
    else admitted.push(event);
  }
  admitted.sort((a, b) => a.lamport - b.lamport || compareBytes(a.id, b.id));
  return { events: admitted, rejected, create };
}

/**
 * Resolves a group's state from its events (see the header for the algorithm). `opts.group`
 * names the group when the events may mix groups. ProtocolError when there is no create event
 * for the group; UsageError when `events` is not an array of events. Deterministic: the same set
 * of events gives the same state, whatever their order and duplicates.
 */
export function resolveGroupState(
  events: readonly GroupEvent[],
  opts: { group?: Uint8Array } = {},
): GroupState {
  if (!Array.isArray(events)) throw new UsageError('events must be an array');
  if (typeof opts !== 'object' || opts === null) throw new UsageError('options must be an object');
  if (
    opts.group !== undefined &&
    (!(opts.group instanceof Uint8Array) || opts.group.length !== GROUP_ID_BYTES)
  )
    throw new UsageError(`group id must be ${GROUP_ID_BYTES} bytes`);
  const { events: sorted, rejected, create } = admit(events, opts.group);

  // ---- Step 1 (continued): the DAG, in (Lamport, id) order -------------------------------
  const nodes: Node[] = [];
  const indexById = new Map<string, number>();
  const powerNodes: number[] = [];
  const pending: Array<{ event: GroupEvent; parents: number[]; p: number }> = [];
  const byId = new Map(sorted.map((event) => [idKey(event.id), event]));
  for (const event of sorted) {
    const parents: number[] = [];
    let problem: [GroupRejectionReason, string] | undefined;
    let above = 0;
    for (const parent of event.parents) {
      const key = idKey(parent);
      const known = byId.get(key);
      const j = indexById.get(key);
      if (known === undefined) problem = ['orphan', 'a parent is missing'];
      else if (known.lamport >= event.lamport) problem = ['clock', 'Lamport clock not above a parent’s'];
      else if (j === undefined) problem = ['orphan', 'a parent was refused'];
      if (problem !== undefined || j === undefined) break;
      parents.push(j);
      above = Math.max(above, known!.lamport);
    }
    if (problem === undefined && event.parents.length > 0 && event.lamport > above + MAX_GROUP_LAMPORT_JUMP)
      problem = ['clock', `Lamport clock more than ${MAX_GROUP_LAMPORT_JUMP} above its parents’`];
    if (problem !== undefined) {
      reject(rejected, event.id, ...problem);
      continue;
    }
    const index = pending.length;
    const p = POWER_TYPES.has(event.type) ? powerNodes.push(index) - 1 : -1;
    pending.push({ event, parents, p });
    indexById.set(idKey(event.id), index);
  }

  const powerCount = powerNodes.length;
  for (const { event, parents, p } of pending) {
    const powerAnc = new Bits(powerCount);
    const candidates = new Set<number>();
    for (const j of parents) {
      const parent = nodes[j]!;
      powerAnc.addAll(parent.powerAnc);
      if (parent.p >= 0) {
        powerAnc.add(parent.p);
        candidates.add(parent.p);
      } else {
        for (const h of parent.powerHeads) candidates.add(h);
      }
    }
    const powerHeads = [...candidates]
      .filter(
        (h) => ![...candidates].some((other) => other !== h && nodes[powerNodes[other]!]!.powerAnc.has(h)),
      )
      .sort((a, b) => a - b);
    const index = nodes.length;
    const targetKey = targetOf(event);
    for (const j of parents) nodes[j]!.children.push(index);
    nodes.push({
      event,
      index,
      author: toHex(event.author),
      target: targetKey === undefined ? '' : toHex(targetKey),
      parents,
      children: [],
      p,
      powerAnc,
      powerHeads,
      refused: null,
      power: 0,
    });
  }
  if (nodes[0]?.event !== create) throw new InternalError('the create event is not the first admitted');

  const creator = toHex(create.author);
  const base: AuthState = {
    members: new Map([
      [
        creator,
        {
          key: create.author,
          role: 'creator',
          joinedAt: 0,
          join: 0,
          ...(create.content.next ? { next: create.content.next } : {}),
        },
      ],
    ]),
    invited: new Map(),
    banned: new Map(),
    settings: create.content.settings,
  };
  const levels = POWER_LEVELS.map(() => new Bits(powerCount));
  const ctx: Context = { nodes, powerNodes, levels, creator, base };

  // ---- Step 2: authorisation at the parents ------------------------------------------------
  // stateAt(e) depends only on e's maximal power ancestors: snapshots are keyed by them and
  // dropped after their last use. With one maximal ancestor h it is h's own state after h
  // (the order is topological, so h goes last: Phase1 of h's ancestors plus h is that state plus h).
  const keyOf = (heads: readonly number[]): string => heads.join(',');
  const uses = new Map<string, number>();
  for (const node of nodes) {
    const k = keyOf(node.powerHeads);
    uses.set(k, (uses.get(k) ?? 0) + 1);
  }
  // Several keys may hold one snapshot (a refused event leaves the state as it was): a snapshot
  // is extended in place only by the last user of the last key holding it, else copied.
  const snapshots = new Map<string, AuthState>();
  const holders = new Map<AuthState, number>();
  const hold = (k: string, state: AuthState): void => {
    snapshots.set(k, state);
    holders.set(state, (holders.get(state) ?? 0) + 1);
  };
  /** Drops a key; true when nothing else holds its snapshot any more. */
  const release = (k: string, state: AuthState): boolean => {
    snapshots.delete(k);
    const left = holders.get(state)! - 1;
    if (left > 0) holders.set(state, left);
    else holders.delete(state);
    return left === 0;
  };
  hold('', base); // never released: the base is never changed
  for (const node of nodes) {
    if (node.index === 0) continue; // the create
    const k = keyOf(node.powerHeads);
    let at = snapshots.get(k);
    if (at === undefined) {
      const downset = new Bits(powerCount);
      for (const h of node.powerHeads) {
        downset.add(h);
        downset.addAll(nodes[powerNodes[h]!]!.powerAnc);
      }
      at = phase1(ctx, downset);
      hold(k, at);
    }
    const left = uses.get(k)! - 1;
    uses.set(k, left);
    const exclusive = left === 0 && k !== '' && release(k, at);

    node.refused = authorise(ctx, at, node);
    node.power = powerOf(ctx, at, node.author);
    if (node.p >= 0) levels[POWER_LEVELS.indexOf(node.power)]!.add(node.p);
    if (node.p >= 0 && (uses.get(String(node.p)) ?? 0) > 0) {
      let after = at;
      if (node.refused === null) {
        after = exclusive ? at : copyAuth(at);
        applyPower(ctx, after, node);
      }
      hold(String(node.p), after);
    }
  }

  // ---- Step 3: the resolved power state ----------------------------------------------------
  const applied = new Bits(powerCount);
  const sequence: number[] = [];
  const resolved = phase1(ctx, null, (p, why, refusedAtParents) => {
    const event = nodes[powerNodes[p]!]!.event;
    if (why === null) {
      applied.add(p);
      sequence.push(p);
    } else {
      reject(rejected, event.id, refusedAtParents ? 'unauthorised' : 'conflict', why);
    }
  });

  // ---- Step 4: display events against view(e) ----------------------------------------------
  // Power events descending from each node, by a reverse sweep.
  const powerDesc: Bits[] = new Array<Bits>(nodes.length);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const bits = new Bits(powerCount);
    for (const c of nodes[i]!.children) {
      bits.addAll(powerDesc[c]!);
      if (nodes[c]!.p >= 0) bits.add(nodes[c]!.p);
    }
    powerDesc[i] = bits;
  }
  // A display event's check reads only its author's membership and role and the settings, so
  // view(e) needs only the applied power events that change those (positions in `sequence`).
  const touching = new Map<string, number[]>();
  const settingsChanges: number[] = [];
  /** Applied rekeys: a member key → the key it replaced (a member's earlier keys, newest first). */
  const rekeyedFrom = new Map<string, string>();
  const rekeyedTo = new Map<string, string>();
  /** The key a member holds now, from any key they held (rekeys are applied in sequence order). */
  const currentKey = (key: string): string => {
    let k = key;
    for (let n = 0, to = rekeyedTo.get(k); to !== undefined && n < rekeyedTo.size; n++, to = rekeyedTo.get(k))
      k = to;
    return k;
  };
  const earlierKeys = (key: string): string[] => {
    const out = [key];
    for (let k = rekeyedFrom.get(key); k !== undefined && !out.includes(k); k = rekeyedFrom.get(k))
      out.push(k);
    return out;
  };
  sequence.forEach((p, position) => {
    const node = nodes[powerNodes[p]!]!;
    const type = node.event.type;
    let who: string | undefined;
    if (type === 'rekey') {
      rekeyedFrom.set(node.target, node.author);
      rekeyedTo.set(node.author, node.target);
      for (const k of [node.author, node.target]) touching.set(k, [...(touching.get(k) ?? []), position]);
      return;
    }
    if (type === 'join' || type === 'leave') who = node.author;
    else if (type === 'kick' || type === 'ban' || type === 'role') who = node.target;
    else if (type === 'settings') settingsChanges.push(position);
    if (who !== undefined) {
      const list = touching.get(who);
      if (list === undefined) touching.set(who, [position]);
      else list.push(position);
    }
  });
  const displayApplied: Node[] = [];
  for (const node of nodes) {
    if (node.p >= 0 || node.index === 0) continue;
    if (node.refused !== null) {
      reject(rejected, node.event.id, 'unauthorised', node.refused);
      continue;
    }
    const later = powerDesc[node.index]!;
    let view = resolved;
    if (later.intersects(applied)) {
      view = { members: new Map(), invited: new Map(), banned: new Map(), settings: base.settings };
      // The author's membership may have begun under an earlier key of theirs (rekey).
      const keys = earlierKeys(node.author);
      for (const k of keys) {
        const own = base.members.get(k);
        if (own !== undefined) view.members.set(k, own);
      }
      const positions = [
        ...new Set([...keys.flatMap((k) => touching.get(k) ?? []), ...settingsChanges]),
      ].sort((a, b) => a - b);
      for (const position of positions) {
        const p = sequence[position]!;
        if (!later.has(p)) applyPower(ctx, view, nodes[powerNodes[p]!]!);
      }
    }
    const why = authorise(ctx, view, node);
    if (why === null) displayApplied.push(node);
    else reject(rejected, node.event.id, 'conflict', why);
  }
  powerDesc.length = 0;

  // ---- Step 5: registers --------------------------------------------------------------------
  const registerIndex = new Map<string, number>();
  const writes = new Map<number, number>(); // node index -> register
  for (const node of displayApplied) {
    let name: string = node.event.type;
    if (node.event.type === 'nick' || node.event.type === 'status') {
      // A nick or status set under an earlier key of the member (rekey) is theirs still.
      const holder = currentKey(node.author);
      const member = resolved.members.get(holder);
      if (member === undefined) continue; // no longer a member
      const join = nodes[member.join]!;
      if (join.p >= 0 && !node.powerAnc.has(join.p)) continue; // from an earlier membership
      name = `${node.event.type}:${holder}`;
    }
    let r = registerIndex.get(name);
    if (r === undefined) {
      r = registerIndex.size;
      registerIndex.set(name, r);
    }
    writes.set(node.index, r);
  }
  const below: Bits[] = new Array<Bits>(nodes.length);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const bits = new Bits(registerIndex.size);
    for (const c of nodes[i]!.children) {
      bits.addAll(below[c]!);
      const r = writes.get(c);
      if (r !== undefined) bits.add(r);
    }
    below[i] = bits;
  }
  const winners = new Map<number, Node>();
  for (const [i, r] of writes) {
    if (below[i]!.has(r)) continue; // overwritten by a later write of the same field
    const node = nodes[i]!;
    const best = winners.get(r);
    if (best === undefined || registerBefore(node, best)) winners.set(r, node);
  }
  below.length = 0;
  const winner = (name: string): Node | undefined => {
    const r = registerIndex.get(name);
    return r === undefined ? undefined : winners.get(r);
  };

  // ---- The result -----------------------------------------------------------------------------
  // Heads and clock come from accepted events only: a refused event, whatever clock it claims,
  // moves neither (issue 11). The largest accepted clock is a head's.
  const accepted = new Uint8Array(nodes.length);
  accepted[0] = 1;
  for (const p of sequence) accepted[powerNodes[p]!] = 1;
  for (const node of displayApplied) accepted[node.index] = 1;
  const acceptedBelow = new Uint8Array(nodes.length);
  const heads: Node[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    for (const c of nodes[i]!.children) if (accepted[c] === 1 || acceptedBelow[c] === 1) acceptedBelow[i] = 1;
    if (accepted[i] === 1 && acceptedBelow[i] === 0) heads.push(nodes[i]!);
  }
  const members = new Map<string, GroupMember>();
  for (const key of [...resolved.members.keys()].sort()) {
    const m = resolved.members.get(key)!;
    const nick = winner(`nick:${key}`)?.event;
    const status = winner(`status:${key}`)?.event;
    members.set(key, {
      key: m.key,
      role: m.role,
      joinedAt: m.joinedAt,
      ...(nick?.type === 'nick' ? { nick: nick.content.nick } : {}),
      ...(status?.type === 'status' ? { status: status.content.status } : {}),
    });
  }
  const name = winner('name')?.event;
  const topic = winner('topic')?.event;
  const avatar = winner('avatar')?.event;
  const pin = winner('pin')?.event;
  return {
    group: create.group.slice(),
    create: create.id.slice(),
    creator: create.author.slice(),
    members,
    invited: new Set([...resolved.invited.keys()].sort()),
    banned: new Set([...resolved.banned.keys()].sort()),
    name: name?.type === 'name' ? name.content.name : create.content.name,
    topic: topic?.type === 'topic' ? topic.content.topic : '',
    avatar: avatar?.type === 'avatar' ? avatar.content.avatar : null,
    pinned: pin?.type === 'pin' ? pin.content.pin : null,
    settings: resolved.settings,
    heads: heads.map((node) => node.event.id.slice()).sort(compareBytes),
    lamport: heads.reduce((max, node) => Math.max(max, node.event.lamport), 0),
    rejected: [...rejected.values()].sort((a, b) => compareBytes(a.id, b.id)),
  };
}

/** Step 5's order among concurrent writes: higher power, then higher Lamport, then smaller id. */
function registerBefore(a: Node, b: Node): boolean {
  if (a.power !== b.power) return a.power > b.power;
  if (a.event.lamport !== b.event.lamport) return a.event.lamport > b.event.lamport;
  return compareBytes(a.event.id, b.event.id) < 0;
}
