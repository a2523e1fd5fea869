// Public rooms end to end: the real `parus` binary for three accounts that are nobody's
// contacts and a real relay process. Alice opens a room and prints its link; Bob and Carol join
// by the link, they chat in the room, Bob asks Carol for a private chat from the member list,
// Carol accepts, and they chat 1:1 as ordinary contacts. Then a join by an old link is refused.
import { describe, expect, it } from 'vitest';
import { cliWorld, people, type Msg, type Who } from './support/cli-world.ts';

const { parus, json, readAll, relayAddress } = cliWorld('room-e2e');

describe('parus public rooms end to end', () => {
  let id = '';
  let link = '';
  const inbox: Record<Who, Msg[]> = { alice: [], bob: [], carol: [] };

  /** Everyone reads until all three are members with sessions to each other (or rounds run out). */
  async function settle(rounds = 10): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      for (const who of people) inbox[who].push(...(await readAll(who)));
      const views = await Promise.all(people.map((who) => json(who, ['group', 'members', id])));
      const ok = views.every(
        (v) =>
          (v.members as Array<{ linked: boolean }>).length === 3 &&
          (v.members as Array<{ linked: boolean }>).every((m) => m.linked),
      );
      if (ok) return;
    }
  }

  it('creates a room and prints its link; two strangers join by it and chat', async () => {
    for (const who of people)
      await json(who, ['init', '--name', who[0]!.toUpperCase() + who.slice(1), '--relay', relayAddress()]);
    const created = await json('alice', ['group', 'create', 'Lobby', '--public']);
    id = (created.group as { id: string; public?: boolean }).id;
    expect((created.group as { public?: boolean }).public).toBe(true);
    const linked = await json('alice', ['group', 'link', 'Lobby']);
    // The short link (decision 0059) for Bob, the long one (offline) for Carol.
    const short = String(linked.link);
    link = String(linked.longLink);
    expect(short.startsWith('parus:r/')).toBe(true);
    expect(link.startsWith('parus:room/')).toBe(true);
    const human = await parus('alice', ['group', 'link', 'Lobby']);
    expect(human.stdout).toContain(short);

    const bobJoin = await json('bob', ['group', 'join', short, '--nick', 'bob']);
    expect((bobJoin.group as { id: string }).id).toBe(id);
    await json('carol', ['group', 'join', link, '--nick', 'carol']);
    await settle();
    for (const who of people) {
      const members = await json(who, ['group', 'members', id]);
      expect((members.members as Array<{ linked: boolean }>).map((m) => m.linked)).toEqual([
        true,
        true,
        true,
      ]);
      const contacts = await json(who, ['contacts']);
      expect(contacts.contacts).toEqual([]);
    }
    await json('bob', ['group', 'send', id, 'hello lobby']);
    await json('carol', ['group', 'send', id, 'hi bob']);
    for (let i = 0; i < 3; i++) for (const who of people) inbox[who].push(...(await readAll(who)));
    const got = (who: Who): string[] => inbox[who].filter((m) => m.group === id).map((m) => m.text);
    expect(got('alice').sort()).toEqual(['hello lobby', 'hi bob']);
    expect(got('bob')).toEqual(['hi bob']);
    expect(got('carol')).toEqual(['hello lobby']);
  }, 400_000);

  it('starts a private chat from the member list: a request, accepted, then 1:1 messages', async () => {
    await json('bob', ['group', 'chat', id, 'carol', '--note', 'hi, private?']);
    const read = await json('carol', ['read']);
    const requests = read.requests as Array<{ id: string; from: string; note?: string }>;
    expect(requests).toMatchObject([{ from: 'bob', note: 'hi, private?' }]);
    const listed = await json('carol', ['requests']);
    expect((listed.requests as Array<{ id: string }>).map((r) => r.id)).toEqual([requests[0]!.id]);
    const human = await parus('carol', ['requests']);
    expect(human.stdout).toContain(`parus requests accept ${requests[0]!.id}`);
    const accepted = await json('carol', ['requests', 'accept', requests[0]!.id, '--alias', 'bob']);
    expect((accepted.contact as { alias: string }).alias).toBe('bob');
    const bobRead = await json('bob', ['read']);
    const newContacts = bobRead.contacts as Array<{ alias: string }>;
    expect(newContacts).toHaveLength(1);
    const carolAlias = newContacts[0]!.alias;
    await json('carol', ['read']);
    await json('carol', ['send', 'bob', 'just between us']);
    expect((await readAll('bob')).map((m) => m.text)).toEqual(['just between us']);
    await json('bob', ['send', carolAlias, 'sure']);
    expect((await readAll('carol')).map((m) => m.text)).toEqual(['sure']);
    // Declining leaves nothing behind.
    await json('alice', ['group', 'chat', id, 'bob']);
    const bobRequests = (await json('bob', ['read'])).requests as Array<{ id: string }>;
    expect(bobRequests).toHaveLength(1);
    await json('bob', ['requests', 'decline', bobRequests[0]!.id]);
    expect((await json('bob', ['requests'])).requests).toEqual([]);
    const bad = await parus('bob', ['requests', 'accept', 'ffff', '--json']);
    expect(JSON.parse(bad.stdout).error.name).toBe('NotFoundError');
  }, 300_000);

  it('a join by an old link is refused: the joiner waiting for the door is told and exits non-zero', async () => {
    const fresh = String((await json('alice', ['group', 'link', 'Lobby', '--rotate', '--long'])).link);
    expect(fresh.startsWith('parus:room/')).toBe(true);
    await json('bob', ['group', 'leave', id]);
    // Bob comes back with the link from before the rotation and waits while Alice is online.
    let answered = false;
    const waiting = parus('bob', ['group', 'join', link, '--wait', '60', '--json']).finally(() => {
      answered = true;
    });
    for (let i = 0; i < 20 && !answered; i++) await json('alice', ['read']);
    const refused = await waiting;
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout.trim().split('\n').pop()!).refused).toBe('link-invalid');
    const listed = (await json('bob', ['group', 'list'])).groups as Array<{ id: string; refused?: string }>;
    expect(listed.find((g) => g.id === id)?.refused).toBe('link-invalid');
    expect((await parus('bob', ['group', 'list'])).stdout).toContain('the link is no longer valid');

    // With the current link he is let in again, and `parus read` says so.
    await json('bob', ['group', 'join', fresh]);
    await json('alice', ['read']);
    const read = await parus('bob', ['read']);
    expect(read.stdout).toContain(`Joined the room Lobby (id ${id}).`);
    expect(read.stdout).not.toContain('No new messages.');
  }, 300_000);
});
