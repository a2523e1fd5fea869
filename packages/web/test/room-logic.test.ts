// The pure pieces behind the room screens: which form a pasted or scanned text opens (it must
// agree with core's own recognition of room links, which the engine uses to decode them), and
// when a room in the chat list is still being joined.
import { describe, expect, it } from 'vitest';
import {
  CARD_LINK_PREFIX,
  ROOM_LINK_PREFIX,
  SHORT_LINK_PREFIX,
  SHORT_ROOM_LINK_PREFIX,
  isRoomLink,
  isShortRoomLink,
} from '@parus/core';
import { isJoiningRoom } from '../src/components/group-list-item.tsx';
import { linkKind } from '../src/links.ts';

describe('linkKind', () => {
  const samples = [
    `${ROOM_LINK_PREFIX}o2FnWCA`,
    `  ${ROOM_LINK_PREFIX.toUpperCase()}abc\n`,
    'Parus:Room/xyz',
    `${CARD_LINK_PREFIX}pWF2AWFr`,
    'parus:room',
    'parus:',
    'parus-sn:AAAA',
    'https://example.org/parus:room/x',
    '',
    '小明的連結',
    `${SHORT_ROOM_LINK_PREFIX}AQID`,
    ' PARUS:R/AQID',
    `${SHORT_LINK_PREFIX}AQID`,
  ];

  it('calls room links what core calls room links, whatever the case and surrounding spaces', () => {
    for (const s of samples) expect(linkKind(s) === 'room', s).toBe(isRoomLink(s) || isShortRoomLink(s));
  });

  it('tells room links, invitations and anything else apart', () => {
    expect(samples.map(linkKind)).toEqual([
      'room',
      'room',
      'room',
      'invite',
      'invite', // no slash: not a room link, so the invitation path reports it invalid
      'other',
      'other',
      'other',
      'other',
      'other',
      'room', // a short room link (decision 0059)
      'room',
      'invite', // a short invitation
    ]);
  });
});

describe('isJoiningRoom', () => {
  it('is a room joined by link until a member invites my new key (no inviter to show)', () => {
    expect(isJoiningRoom({ status: 'invited' })).toBe(true);
    expect(isJoiningRoom({ status: 'invited', invitedBy: '阿美' })).toBe(false);
    expect(isJoiningRoom({ status: 'joined' })).toBe(false);
    expect(isJoiningRoom({ status: 'left' })).toBe(false);
  });
});
