/**
 * What a pasted or scanned text is, before the engine looks inside: a public room's link
 * (`parus:room/…`, core room-link.ts, or its short form `parus:r/…`, decision 0059), a friend's invitation (any other `parus:` link), or
 * something else. Pure and small: the add-friend dialog decides which form to show with it,
 * on the first screen, without the engine chunk.
 */
export type LinkKind = 'room' | 'invite' | 'other';

const ROOM_PREFIX = 'parus:room/';
const SHORT_ROOM_PREFIX = 'parus:r/';
const CARD_PREFIX = 'parus:';

export function linkKind(text: string): LinkKind {
  const head = text.trim().slice(0, ROOM_PREFIX.length).toLowerCase();
  if (head === ROOM_PREFIX || head.startsWith(SHORT_ROOM_PREFIX)) return 'room';
  if (head.startsWith(CARD_PREFIX) && head.length > CARD_PREFIX.length) return 'invite';
  return 'other';
}
