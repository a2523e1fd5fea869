// Small group calls' signalling (groups/group-call-signalling.ts, decision 0053) between real
// accounts on a real relay over loopback WebSockets: a ring reaches every member, those already
// in offer to one who joins with a fingerprint signed by their member key, leaving, the last one
// out writing the call log (群組通話); and the refusals: a fifth participant (full), an SDP whose
// fingerprint is not the signed one, a media path whose certificate is another, a signal from
// someone who is not a member or was removed.
import { describe, expect, it } from 'vitest';
import {
  ProtocolError,
  QuotaError,
  VerificationError,
  encodeGroupCallSignalBody,
  formatFingerprint,
  fromHex,
  systemRandom,
  type CborMap,
  type ParusError,
} from '@parus/core';
import type { Account, GroupCallEvent } from '../src/index.ts';
import { befriend, relayWorld, settle, until } from './support/group-harness.ts';
import { waitFor } from './support/wait-for.ts';
import { media } from './support/call-sdp.ts';

const world = relayWorld('group-calls');

interface Watched {
  ev: GroupCallEvent[];
  errors: ParusError[];
}

function watch(a: Account): Watched {
  const w: Watched = { ev: [], errors: [] };
  a.events.on('groupCall', (e) => w.ev.push(e));
  a.events.on('error', (e) => w.errors.push(e.error));
  return w;
}

/** Creator plus the others, all friends of the creator, all joined, every pair linked. */
async function groupOf(names: string[]): Promise<{ people: Account[]; g: string; keys: string[] }> {
  const people: Account[] = [];
  for (const n of names) people.push(await world.account(n));
  const [first, ...rest] = people;
  for (const p of rest) await befriend(first!, p, 'first');
  const g = (await first!.groups.create('Call group')).id;
  for (const n of names.slice(1)) await first!.groups.invite(g, n);
  await settle(people);
  for (const p of rest) await p.groups.join(g);
  await until(people, () =>
    people.every((p) => {
      const ms = p.groups.members(g);
      return ms.length === names.length && ms.every((m) => m.linked);
    }),
  );
  for (const p of people) await p.start();
  const keys = people.map((p) => p.groups.members(g).find((m) => m.me)!.key);
  return { people, g, keys };
}

async function seen(w: Watched, f: (e: GroupCallEvent) => boolean): Promise<GroupCallEvent> {
  await waitFor(() => w.ev.some(f), 60_000, 'a group call event');
  return w.ev.find(f)!;
}

describe('group calls', () => {
  it('three members: ring, joins, an offer and answer per pair with signed fingerprints, leaving, the log', async () => {
    const { people, g, keys } = await groupOf(['Alice', 'Bob', 'Carol']);
    const [alice, bob, carol] = people as [Account, Account, Account];
    const [wa, wb, wc] = people.map(watch) as [Watched, Watched, Watched];

    const call = await alice.groups.calls.start(g, false);
    for (const w of [wb, wc])
      await seen(w, (e) => e.type === 'ring' && e.call === call && e.member === keys[0]);
    expect(bob.groups.calls.current(g)?.members.map((m) => m.key)).toEqual([keys[0]]);

    // Bob joins: Alice (already in) offers to him; he answers.
    await bob.groups.calls.join(g);
    await seen(wa, (e) => e.type === 'joined' && e.member === keys[1]);
    await seen(wc, (e) => e.type === 'state' && e.member === keys[1]);
    const ab = media();
    await alice.groups.calls.offer(g, keys[1]!, { n: 0, ...ab });
    const offer = await seen(wb, (e) => e.type === 'offer' && e.member === keys[0]);
    expect(offer.sdp).toBe(ab.sdp);
    const ba = media();
    await bob.groups.calls.answer(g, keys[0]!, { n: 0, ...ba });
    const answer = await seen(wa, (e) => e.type === 'answer' && e.member === keys[1]);
    expect(answer.sdp).toBe(ba.sdp);
    // The three checks of a pair: applied SDP and the certificate the connection reports.
    bob.groups.calls.checkFingerprint(g, keys[0]!, ab.sdp, formatFingerprint(ab.fp));
    alice.groups.calls.checkFingerprint(g, keys[1]!, ba.sdp, formatFingerprint(ba.fp));
    await alice.groups.calls.candidates(g, keys[1]!, [
      { c: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', i: 0 },
    ]);
    await seen(wb, (e) => e.type === 'ice' && e.member === keys[0] && e.cands?.length === 1);

    // Carol joins late: both already in offer to her.
    await carol.groups.calls.join(g);
    for (const w of [wa, wb]) await seen(w, (e) => e.type === 'joined' && e.member === keys[2]);
    await alice.groups.calls.offer(g, keys[2]!, { n: 0, ...media() });
    await bob.groups.calls.offer(g, keys[2]!, { n: 0, ...media() });
    await seen(wc, (e) => e.type === 'offer' && e.member === keys[0]);
    await seen(wc, (e) => e.type === 'offer' && e.member === keys[1]);
    expect(carol.groups.calls.current(g)?.members.length).toBe(3);

    // Bob leaves; the others stay in the call.
    await bob.groups.calls.leave(g);
    for (const w of [wa, wc]) await seen(w, (e) => e.type === 'left' && e.member === keys[1]);
    expect(alice.groups.calls.current(g)?.joined).toBe(true);
    expect(
      alice.groups.calls
        .current(g)
        ?.members.map((m) => m.key)
        .sort(),
    ).toEqual([keys[0], keys[2]].sort());

    // The last one out writes the log in the group.
    await alice.groups.calls.leave(g);
    await seen(wc, (e) => e.type === 'left' && e.member === keys[0]);
    await carol.groups.calls.leave(g);
    await until(people, async () =>
      (await Promise.all(people.map((p) => p.groups.history(g)))).every((h) =>
        h.some((m) => m.kind === 'call-log' && m.call?.outcome === 'answered'),
      ),
    );
    const log = (await bob.groups.history(g)).find((m) => m.kind === 'call-log')!;
    expect(log.call?.video).toBe(false);
    expect(log.call?.secs).toBeGreaterThanOrEqual(0);
    expect((await alice.groups.history(g)).filter((m) => m.kind === 'call-log')).toHaveLength(1);
    for (const p of people) expect(p.groups.calls.current(g)).toBeUndefined();
    expect([...wa.errors, ...wb.errors, ...wc.errors]).toEqual([]);
  });

  it('refuses a pair whose fingerprint is not the signed one; the others stay connected', async () => {
    const { people, g, keys } = await groupOf(['Dina', 'Eli', 'Fay']);
    const [dina, eli, fay] = people as [Account, Account, Account];
    const [, we, wf] = people.map(watch) as [Watched, Watched, Watched];
    await dina.groups.calls.start(g, true);
    await seen(we, (e) => e.type === 'ring');
    await seen(wf, (e) => e.type === 'ring');
    await eli.groups.calls.join(g);
    await fay.groups.calls.join(g);
    await until(people, () => dina.groups.calls.current(g)?.members.length === 3);
    // Dina's offer to Eli names another fingerprint in its SDP than the one she signed.
    const signed = media();
    await dina.groups.calls.offer(g, keys[1]!, { n: 0, fp: signed.fp, sdp: media().sdp });
    await seen(we, (e) => e.type === 'refused' && e.member === keys[0] && e.reason === 'fingerprint');
    expect(we.ev.some((e) => e.type === 'offer' && e.member === keys[0])).toBe(false);
    expect(eli.groups.calls.current(g)?.refused).toEqual([keys[0]]);
    // Her later signals on that pair are dropped.
    await dina.groups.calls.candidates(g, keys[1]!, [{ c: '' }]);
    await waitFor(() => we.errors.some((e) => e instanceof ProtocolError), 60_000);

    // Fay's pair with Dina holds; a connection reporting another certificate is refused.
    const ok = media();
    await dina.groups.calls.offer(g, keys[2]!, { n: 0, ...ok });
    await seen(wf, (e) => e.type === 'offer' && e.member === keys[0]);
    expect(() =>
      fay.groups.calls.checkFingerprint(g, keys[0]!, ok.sdp, formatFingerprint(ok.fp)),
    ).not.toThrow();
    expect(() =>
      fay.groups.calls.checkFingerprint(g, keys[0]!, ok.sdp, formatFingerprint(systemRandom.bytes(32))),
    ).toThrow(VerificationError);
    await seen(wf, (e) => e.type === 'refused' && e.member === keys[0]);
    // Eli and Fay's own pair is untouched.
    const ef = media();
    await eli.groups.calls.offer(g, keys[2]!, { n: 0, ...ef });
    await seen(wf, (e) => e.type === 'offer' && e.member === keys[1]);
    expect(fay.groups.calls.current(g)?.joined).toBe(true);
  });

  it('a fifth participant is refused (full); a non-member and a removed member are dropped', async () => {
    const { people, g, keys } = await groupOf(['Gus', 'Hana', 'Ivy', 'Jon', 'Kim']);
    const [gus, hana, ivy, jon, kim] = people as [Account, Account, Account, Account, Account];
    const ws = people.map(watch);
    await gus.groups.calls.start(g, false);
    for (const w of ws.slice(1)) await seen(w, (e) => e.type === 'ring');
    for (const p of [hana, ivy, jon]) await p.groups.calls.join(g);
    await until(people, () => kim.groups.calls.current(g)?.members.length === 4);
    await expect(kim.groups.calls.join(g)).rejects.toBeInstanceOf(QuotaError);

    // A client that did not count (its view emptied) joins anyway: those in answer `full`.
    const inner = (kim.groups.calls as unknown as { calls: Map<string, { in: Map<string, unknown> }> }).calls;
    inner.get(g)!.in.clear();
    inner.get(g)!.in.set(keys[0]!, { device: undefined });
    await kim.groups.calls.join(g);
    await seen(ws[4]!, (e) => e.type === 'ended' && e.reason === 'full');
    expect(kim.groups.calls.current(g)?.joined).not.toBe(true);
    expect(gus.groups.calls.current(g)?.members).toHaveLength(4);

    // A friend of Gus who is not in the group signals into it: dropped.
    const lee = await world.account('Lee');
    await befriend(gus, lee, 'gus');
    await lee.start();
    const sendRaw = async (from: Account, alias: string, body: CborMap): Promise<void> => {
      const inside = from as unknown as {
        calls: { sendNow(c: string, d: Uint8Array, k: string, b: CborMap): Promise<void> };
        byAlias(a: string): { id: Uint8Array; device: Uint8Array };
      };
      const c = inside.byAlias(alias);
      await inside.calls.sendNow(Buffer.from(c.id).toString('hex'), c.device, 'gcall', body);
    };
    const gw = ws[0]!;
    const before = gw.ev.length;
    const call = fromHex(gus.groups.calls.current(g)!.call);
    await sendRaw(lee, 'gus', encodeGroupCallSignalBody({ g: fromHex(g), call, op: 'join', video: false }));
    await waitFor(() => gw.errors.some((e) => e instanceof ProtocolError), 60_000);
    expect(gw.ev.slice(before).some((e) => e.type === 'joined' || e.type === 'state')).toBe(false);

    // Jon is removed from the group; his signals no longer count.
    await jon.groups.calls.leave(g);
    await seen(gw, (e) => e.type === 'left' && e.member === keys[3]);
    await gus.groups.kick(g, keys[3]!);
    await until(people, () => jon.groups.get(g).status === 'removed');
    const errorsBefore = gw.errors.length;
    await sendRaw(jon, 'first', encodeGroupCallSignalBody({ g: fromHex(g), call, op: 'join', video: false }));
    await waitFor(() => gw.errors.length > errorsBefore, 60_000);
    expect(gw.errors.at(-1)).toBeInstanceOf(ProtocolError);
    expect(gus.groups.calls.current(g)?.members.map((m) => m.key)).not.toContain(keys[3]);

    // Ivy is removed while in the call: out of it for the others, and for herself.
    await gus.groups.kick(g, keys[2]!);
    await until(
      people,
      () =>
        gw.ev.some((e) => e.type === 'left' && e.member === keys[2]) &&
        ws[2]!.ev.some((e) => e.type === 'ended'),
    );
    expect(gus.groups.calls.current(g)?.members.map((m) => m.key)).not.toContain(keys[2]);
    expect(ivy.groups.calls.current(g)).toBeUndefined();
  });
});
