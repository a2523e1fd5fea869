/**
 * Confirming late messages (issue 4 item 4, seed 003; docs/decisions/0014). A message placed
 * where it arrived because its parents were long superseded (group-messaging.ts `backdated`) goes
 * to its claimed place in the message DAG once an admin, or k distinct members, confirm it.
 *
 * - A confirmation is `lc {g, id, by, sig}`, sent to every member over the bound 1:1 sessions:
 *   sig is Ed25519 by the member key `by` over "parus-group-confirm-v1" || group id || message
 *   id, and `by` must be the member the session is bound to. A confirmation is thus
 *   authenticated twice (the session binding and the signature), and cannot be replayed into
 *   another group or onto another message.
 * - Threshold: one confirmation by a member with admin power (75: admin or creator) in the
 *   resolved state, or k distinct members, k = min(3, ⌈members / 2⌉) (at least 1). The author's
 *   own confirmation never counts (nobody vouches for their own backdating); nor does that of
 *   someone no longer a member. A per-group power for it would need a new entry in the settings'
 *   power table, which older clients refuse (its keys are exact): admin power is used instead.
 * - Confirmations of a message this device has not received yet are kept (at most
 *   MAX_PENDING_CONFIRMATIONS messages per group) and counted when it arrives, since a
 *   confirmation may overtake the message itself; those of a message that is not late here
 *   are ignored (it already sits at its claimed place). Each member counts the same set, so
 *   every member ends with the message at the same (claimed) place.
 */
import {
  GROUP_ROLE_POWER,
  asArray,
  asBytes,
  asMap,
  concatBytes,
  decodeCbor,
  encodeCbor,
  equalBytes,
  groupMemberPower,
  toHex,
  utf8,
  type GroupState,
} from '@parus/core';
import type { Store, StoreOp } from '../store.ts';
import type { GroupMessageRecord } from './group-records.ts';

/** Messages per group whose confirmations wait for the message itself. */
export const MAX_PENDING_CONFIRMATIONS = 256;
/** The most confirmations that count members (k never exceeds this). */
export const LATE_CONFIRMATIONS = 3;

const CONFIRM_CONTEXT = utf8('parus-group-confirm-v1');

export const LC = {
  pending: (g: Uint8Array) => `glc.${toHex(g)}`,
} as const;

/** What a confirmation signature covers. */
export function confirmMessage(group: Uint8Array, id: Uint8Array): Uint8Array {
  return concatBytes(CONFIRM_CONTEXT, group, id);
}

/** How many member confirmations place a late message: min(3, ⌈members / 2⌉), at least 1. */
export function confirmationsNeeded(st: GroupState): number {
  return Math.max(1, Math.min(LATE_CONFIRMATIONS, Math.ceil(st.members.size / 2)));
}

/** The confirmers that count: current members other than the author. */
export function countingConfirmers(st: GroupState, m: GroupMessageRecord): Uint8Array[] {
  return (m.conf ?? []).filter((k) => !equalBytes(k, m.author) && st.members.has(toHex(k)));
}

/** Whether the confirmations of `m` place it at its claimed position. */
export function isConfirmed(st: GroupState, m: GroupMessageRecord): boolean {
  const counting = countingConfirmers(st, m);
  if (counting.some((k) => groupMemberPower(st, k) >= GROUP_ROLE_POWER.admin)) return true;
  return counting.length >= confirmationsNeeded(st);
}

/**
 * `m` with `by` among its confirmers (once), and placed at its claimed position if that makes
 * the threshold. Undefined when nothing changes.
 */
export function withConfirmation(
  st: GroupState,
  m: GroupMessageRecord,
  by: Uint8Array[],
): GroupMessageRecord | undefined {
  const conf = [...(m.conf ?? [])];
  for (const k of by) if (!conf.some((x) => equalBytes(x, k))) conf.push(k);
  if (conf.length === (m.conf?.length ?? 0)) return undefined;
  const next: GroupMessageRecord = { ...m, conf };
  if (isConfirmed(st, next)) delete next.place;
  return next;
}

/** Confirmers kept for a message not here yet. */
export async function pendingConfirmers(
  store: Store,
  group: Uint8Array,
  id: Uint8Array,
): Promise<Uint8Array[]> {
  const raw = await store.get(LC.pending(group), toHex(id));
  if (!raw) return [];
  try {
    return asArray(asMap(decodeCbor(raw), 'pending confirmations').by, 'confirmers', 1024).map((k) =>
      asBytes(k, 'confirmer', { len: 32 }),
    );
  } catch {
    return []; // damaged: the message stays marked, as without confirmations
  }
}

/** Keeps `by`'s confirmation of a message not received yet; nothing past the bound. */
export async function keepPendingConfirmation(
  store: Store,
  group: Uint8Array,
  id: Uint8Array,
  by: Uint8Array,
): Promise<StoreOp[]> {
  const col = LC.pending(group);
  const have = await pendingConfirmers(store, group, id);
  if (have.some((k) => equalBytes(k, by)) || have.length >= 1024) return [];
  if (have.length === 0 && (await store.list(col)).length >= MAX_PENDING_CONFIRMATIONS) return [];
  return [{ type: 'put', collection: col, key: toHex(id), value: encodeCbor({ by: [...have, by] }) }];
}
