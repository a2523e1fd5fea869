// Groups end to end: the real `parus` binary for three accounts and a real relay process over
// loopback WebSockets. Create, invite, join (the two invitees are introduced through the
// inviter, without becoming contacts), send, read, kick — and the kicked member reads nothing
// sent after the kick. A message that claims a place superseded long ago arrives marked late
// (seed 003) until an admin confirms it (Alice's clock moved with libfaketime).
import { describe, expect, it } from 'vitest';
import { cliWorld, people, type Msg, type Who } from './support/cli-world.ts';

const { parusWithInput, parus, json, readAll, relayAddress, setClock } = cliWorld('group-e2e');

describe('parus group end to end', () => {
  let id = '';
  const inbox: Record<Who, Msg[]> = { alice: [], bob: [], carol: [] };

  /** Everyone reads until every member has a session with every other (or rounds run out). */
  async function settle(members: Who[], rounds = 8): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      for (const who of members) inbox[who].push(...(await readAll(who)));
      const views = await Promise.all(members.map((who) => json(who, ['group', 'members', id])));
      const linked = views.every((v) => (v.members as Array<{ linked: boolean }>).every((m) => m.linked));
      const sizes = views.map((v) => (v.members as unknown[]).length);
      if (linked && sizes.every((n) => n === members.length)) return;
    }
  }

  it('sets up three accounts; Bob and Carol are contacts of Alice only', async () => {
    for (const who of people)
      await json(who, ['init', '--name', who[0]!.toUpperCase() + who.slice(1), '--relay', relayAddress()]);
    for (const who of ['bob', 'carol'] as const) {
      const invite = await json('alice', ['invite']);
      await json(who, ['accept', String(invite.link), '--alias', 'alice']);
      await json('alice', ['read']);
      await json(who, ['read']);
    }
    const contacts = await json('alice', ['contacts']);
    expect((contacts.contacts as Array<{ alias: string }>).map((c) => c.alias)).toEqual(['Bob', 'Carol']);
  }, 180_000);

  it('creates a group, invites, shows the invitation with its id, and joins', async () => {
    const created = await json('alice', ['group', 'create', 'Birds']);
    id = (created.group as { id: string }).id;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    await json('alice', ['group', 'invite', 'Birds', 'Bob']);
    await json('alice', ['group', 'invite', 'Birds', 'Carol']);
    const read = await json('bob', ['read']);
    expect(read.invitations).toMatchObject([{ id, name: 'Birds', status: 'invited', invitedBy: 'alice' }]);
    const list = await json('carol', ['group', 'list']);
    expect(list.groups).toMatchObject([{ id, status: 'invited' }]);
    const human = await parus('carol', ['group', 'list']);
    expect(human.stdout).toContain(`parus group join ${id}`);
    await json('bob', ['group', 'join', id]);
    await json('carol', ['group', 'join', id]);
    await settle(people);
    for (const who of people) {
      const members = await json(who, ['group', 'members', id]);
      expect((members.members as Array<{ linked: boolean }>).map((m) => m.linked)).toEqual([
        true,
        true,
        true,
      ]);
    }
    // Group peers are not contacts.
    const bobContacts = await json('bob', ['contacts']);
    expect((bobContacts.contacts as Array<{ alias: string }>).map((c) => c.alias)).toEqual(['alice']);
  }, 300_000);

  it('delivers group messages to every member once, in `read` and in `history`', async () => {
    await json('bob', ['group', 'send', id, 'hello birds']);
    await json('carol', ['group', 'send', id, 'waves', '--me']);
    await settle(people, 2);
    for (const who of people) await settle([who], 1);
    const got = (who: Who): string[] => inbox[who].filter((m) => m.group === id).map((m) => m.text);
    expect(got('alice')).toEqual(['hello birds', 'waves']);
    expect(got('bob')).toEqual(['waves']);
    expect(got('carol')).toEqual(['hello birds']);
    const history = await json('alice', ['history', 'Birds']);
    expect((history.messages as Msg[]).map((m) => m.text)).toEqual(['hello birds', 'waves']);
    const human = await parus('alice', ['history', 'Birds']);
    expect(human.stdout).toContain('Birds | * ');
  }, 300_000);

  it('kicks a member, who then reads nothing more', async () => {
    const kicked = await json('alice', ['group', 'kick', id, 'Carol']);
    expect((kicked.group as { members: number }).members).toBe(2);
    await json('bob', ['read']);
    await json('bob', ['group', 'send', id, 'after the kick']);
    await json('alice', ['read']).then((r) => inbox.alice.push(...(r.messages as Msg[])));
    const carolRead = await readAll('carol');
    expect(carolRead.map((m) => m.text)).not.toContain('after the kick');
    expect(inbox.alice.map((m) => m.text)).toContain('after the kick');
    const list = await json('carol', ['group', 'list']);
    expect(list.groups).toMatchObject([{ id, status: 'removed' }]);
    const members = await json('bob', ['group', 'members', id]);
    expect((members.members as unknown[]).length).toBe(2);
    const refused = await parus('bob', ['group', 'kick', id, 'alice', '--json']);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).error.name).toBe('UsageError');
  }, 300_000);

  it('takes slash commands in `parus chat GROUP`', async () => {
    const chat = await parusWithInput(
      'alice',
      ['chat', 'Birds'],
      '/topic Bring binoculars\n/me waves\nhello from chat\n/nick Ally\n/bogus\n/help\n',
    );
    expect(chat.code).toBe(0);
    expect(chat.stdout).toContain('topic: Bring binoculars');
    expect(chat.stdout).toContain('unknown command /bogus');
    expect(chat.stdout).toContain('/op MEMBER');
    const bobRead = await readAll('bob');
    expect(bobRead.map((m) => m.text)).toEqual(['waves', 'hello from chat']);
    expect(bobRead.map((m) => m.from)).toEqual(['Ally', 'Ally']);
    const list = await json('bob', ['group', 'list']);
    expect(list.groups).toMatchObject([{ id, topic: 'Bring binoculars' }]);
    // A member without the power gets the refusal in the chat, and nothing changes.
    const denied = await parusWithInput('bob', ['chat', 'Birds'], '/kick Ally\n');
    expect(denied.stdout).toContain('not allowed');
    const members = await json('bob', ['group', 'members', id]);
    expect((members.members as unknown[]).length).toBe(2);
  }, 300_000);

  it('turns history sharing on; a newcomer gets what was written since, as history; late marks', async () => {
    // A member may not (settings power: admins); the creator may.
    const refused = await parus('bob', ['group', 'history-sharing', id, 'on', '--json']);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).error.name).toBe('UsageError');
    const on = await json('alice', ['group', 'history-sharing', 'Birds', 'on']);
    expect(on.group).toMatchObject({ id, shareHistory: true });
    await json('bob', ['read']);
    await json('bob', ['group', 'send', id, 'for newcomers']);
    await json('alice', ['read']);
    // Carol, kicked earlier, is invited back and joins: she is a newcomer again.
    await json('alice', ['group', 'invite', id, 'Carol']);
    await json('carol', ['read']);
    await json('carol', ['group', 'join', id]);
    await settle(people);
    let history: Array<Msg & { history?: boolean; id: string }> = [];
    for (let i = 0; i < 8 && !history.some((m) => m.text === 'for newcomers'); i++) {
      await settle(people, 1);
      history = (await json('carol', ['history', 'Birds'])).messages as typeof history;
    }
    const fresh = history.filter((m) => m.text === 'for newcomers');
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.history).toBe(true);
    // Nothing written while she was out before the switch; history is not announced by `read`.
    expect(history.map((m) => m.text)).not.toContain('after the kick');
    expect(history.map((m) => m.text)).not.toContain('hello from chat');
    expect(history.filter((m) => m.history).map((m) => m.text)).toEqual(['for newcomers']);
    expect(inbox.carol.map((m) => m.text)).not.toContain('for newcomers');
    const human = await parus('carol', ['history', 'Birds']);
    expect(human.stdout).toContain('for newcomers (earlier history)');
    const list = await json('carol', ['group', 'list']);
    expect(list.groups).toMatchObject([{ id, status: 'joined', shareHistory: true }]);
    const members = await parus('carol', ['group', 'members', id]);
    expect(members.stdout).toContain('history sharing: on');
    // Only a message marked late may be confirmed.
    const notLate = await parus('carol', ['group', 'confirm', id, fresh[0]!.id.slice(0, 12), '--json']);
    expect(notLate.code).toBe(2);
    expect(JSON.parse(notLate.stdout).error.name).toBe('UsageError');
  }, 300_000);

  it('marks a message that claims a long superseded place as late, until an admin confirms it', async () => {
    await settle(people, 1);
    // Alice writes; Bob, who has not read it, answers what he saw before it. His message names a
    // parent that Alice's superseded: hours before it arrives, by Alice's clock.
    await json('alice', ['group', 'send', id, 'news of the hour']);
    await json('bob', ['group', 'send', id, 'an answer from before']);
    setClock('alice', '+3h');
    type Late = Msg & { id: string; late?: boolean; confirmed?: boolean; confirmationsNeeded?: number };
    let late: Late | undefined;
    for (let i = 0; i < 5 && !late; i++)
      late = ((await json('alice', ['read'])).messages as Late[]).find(
        (m) => m.text === 'an answer from before',
      );
    expect(late).toMatchObject({ late: true, confirmations: 0, confirmationsNeeded: 2 });
    if (!late) return;
    const shown = await parus('alice', ['history', 'Birds']);
    expect(shown.stdout).toContain(
      `an answer from before (arrived late, 0/2 confirmations — parus group confirm ${id}`,
    );
    // Its author cannot confirm it; the creator (an admin) confirms it alone.
    const own = await parus('bob', ['group', 'confirm', id, late.id.slice(0, 12), '--json']);
    expect(own.code).toBe(2);
    const confirmed = await json('alice', ['group', 'confirm', id, late.id.slice(0, 12)]);
    expect(confirmed.message).toMatchObject({ id: late.id, confirmed: true });
    expect(confirmed.message).not.toHaveProperty('late');
    const history = (await json('alice', ['history', 'Birds'])).messages as Late[];
    const placed = history.find((m) => m.id === late.id);
    expect(placed).toMatchObject({ confirmed: true, confirmations: 1 });
    expect(placed).not.toHaveProperty('late');
    setClock('alice', undefined);
  }, 300_000);
});
