// Mutes and pins of groups follow the account to its other devices (issue 15 item 3, the sync
// operations of decision 0039 with the group's id as the chat). Real accounts over a real relay.
import { describe, expect, it } from 'vitest';
import { NotFoundError, UsageError } from '@parus/core';
import { befriend, relayWorld, settle } from './support/group-harness.ts';
import { LIGHT, PASS, syncAll } from './support/device-harness.ts';

const world = relayWorld('group-chat-settings');

describe('group mutes and pins across my devices', () => {
  it('a group muted on the laptop and pinned on the phone is both on each; unpinning and unmuting travel too', async () => {
    const laptop = await world.account('Alice');
    const bob = await world.account('Bob');
    await laptop.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
    await befriend(laptop, bob, 'alice');
    const g = (await laptop.groups.create('Birders')).id;
    await laptop.groups.invite(g, 'Bob');
    await settle([laptop, bob]);
    await bob.groups.join(g);
    await settle([laptop, bob]);
    const phone = await world.account('Alice');
    await phone.restoreSnapshot(await laptop.snapshot(), { passphrase: PASS, deviceName: 'phone' });
    await phone.sync();
    await syncAll(bob, phone, laptop, phone, laptop);
    expect(phone.groups.get(g).id).toBe(g);

    expect(laptop.groupChatSettings(g)).toEqual({ mutedUntil: 0, pinned: false });
    const seen: Array<{ alias?: string; group?: string }> = [];
    phone.events.on('chatSettings', (e) => seen.push(e));
    await laptop.setGroupMuted(g, 2_000_000_000_000);
    await phone.setGroupPinned(g, true);
    await syncAll(laptop, phone, laptop, phone);
    for (const d of [laptop, phone])
      expect(d.groupChatSettings(g)).toEqual({ mutedUntil: 2_000_000_000_000, pinned: true });
    expect(seen).toContainEqual({ group: g });
    // The 1:1 chat with Bob is not touched by the group's settings.
    expect(laptop.chatSettings('Bob')).toEqual({ mutedUntil: 0, pinned: false });

    await phone.setGroupMuted(g, 0);
    await laptop.setGroupPinned(g, false);
    await syncAll(laptop, phone, laptop, phone);
    for (const d of [laptop, phone]) expect(d.groupChatSettings(g)).toEqual({ mutedUntil: 0, pinned: false });

    // Refusals change nothing.
    await expect(laptop.setGroupMuted(g, -1)).rejects.toBeInstanceOf(UsageError);
    await expect(laptop.setGroupMuted('no such group', 1)).rejects.toBeInstanceOf(NotFoundError);
    expect(laptop.groupChatSettings(g)).toEqual({ mutedUntil: 0, pinned: false });
  });
});
