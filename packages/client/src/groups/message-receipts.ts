/**
 * Delivery and read receipts of my group messages (issue 4 §4 "receipts and read counts are
 * kept per member"): one tiny record per message and member in `grc.<group>`, keyed by the
 * message id then the member key, holding how far that member got (1 delivered, 2 read). The
 * message record keeps only the two counts, so handling a receipt costs the same in a group of
 * 10 or 1,000 (before, each message named every member who confirmed it, and every receipt
 * decoded and wrote that list again).
 */
import { toHex } from '@parus/core';
import type { Store, StoreOp } from '../store.ts';
import { GC, type GroupMessageRecord } from './group-records.ts';

export const RECEIPT_DELIVERED = 1;
export const RECEIPT_READ = 2;
export type ReceiptLevel = 0 | typeof RECEIPT_DELIVERED | typeof RECEIPT_READ;

function receiptKey(message: Uint8Array, member: Uint8Array): string {
  return toHex(message) + toHex(member);
}

/** How far `member` got with `message` (0: no receipt yet). */
export async function receiptLevel(
  store: Store,
  group: Uint8Array,
  message: Uint8Array,
  member: Uint8Array,
): Promise<ReceiptLevel> {
  const raw = await store.get(GC.receipts(group), receiptKey(message, member));
  const level = raw?.[0];
  return level === RECEIPT_READ ? RECEIPT_READ : level === RECEIPT_DELIVERED ? RECEIPT_DELIVERED : 0;
}

export function receiptOp(
  group: Uint8Array,
  message: Uint8Array,
  member: Uint8Array,
  level: ReceiptLevel,
): StoreOp {
  return {
    type: 'put',
    collection: GC.receipts(group),
    key: receiptKey(message, member),
    value: Uint8Array.of(level),
  };
}

/** The message's counts once a member who was at `was` reached `now` (undefined: no change). */
export function countReceipt(
  m: GroupMessageRecord,
  was: ReceiptLevel,
  now: ReceiptLevel,
): GroupMessageRecord | undefined {
  if (now <= was) return undefined;
  return {
    ...m,
    delivered: m.delivered + (was < RECEIPT_DELIVERED ? 1 : 0),
    read: m.read + (now === RECEIPT_READ ? 1 : 0),
  };
}

/**
 * A version 1 message (members named in the record): the receipt records for them. The caller
 * writes the message again without its lists.
 */
export function upgradeReceiptOps(group: Uint8Array, m: GroupMessageRecord): StoreOp[] {
  if (!m.legacy) return [];
  const level = new Map<string, { member: Uint8Array; level: ReceiptLevel }>();
  for (const k of m.legacy.delivered) level.set(toHex(k), { member: k, level: RECEIPT_DELIVERED });
  for (const k of m.legacy.read) level.set(toHex(k), { member: k, level: RECEIPT_READ });
  return [...level.values()].map((x) => receiptOp(group, m.id, x.member, x.level));
}
