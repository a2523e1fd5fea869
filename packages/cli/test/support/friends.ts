// The steps every multi-party end-to-end test starts with, with the real `parus` binary: two
// accounts become friends through a short invitation, and a group whose members have all linked.
// Each party is a function that runs `parus ARGS --json` on one device and returns the last JSON
// line it printed (cliWorld's `json` bound to a person, or a home of the browser tests), so the
// CLI tests and the browser-with-CLI tests share them.

/** Runs `parus ARGS --json` on one device; fails on a non-zero exit. */
export type ParusJson = (args: string[]) => Promise<Record<string, unknown>>;

/**
 * `inviter` prints an invitation (the short link), `invitee` accepts it and calls the inviter
 * `alias`; then both read `rounds` times: the contact request, its answer and the device sets
 * (which a backup or a linked device needs to introduce itself, decision 0038).
 */
export async function befriend(
  inviter: ParusJson,
  invitee: ParusJson,
  opts: { alias: string; rounds?: number },
): Promise<{ link: string }> {
  const link = String((await inviter(['invite'])).link);
  await invitee(['accept', link, '--alias', opts.alias]);
  for (let i = 0; i < (opts.rounds ?? 2); i++) {
    await inviter(['read']);
    await invitee(['read']);
  }
  return { link };
}

export interface Member {
  json: ParusJson;
  /** What the creator calls this member (the contact's alias on the creator's device). */
  alias: string;
}

/**
 * `creator` makes a group called `name` and invites each member; each reads the invitation and
 * joins; then everyone reads (the parties at once: separate processes and homes) until every
 * party lists every member as linked (at most `rounds` rounds). Returns the group id.
 */
export async function formGroup(
  creator: ParusJson,
  name: string,
  members: Member[],
  rounds = 8,
): Promise<string> {
  const id = ((await creator(['group', 'create', name])).group as { id: string }).id;
  for (const m of members) await creator(['group', 'invite', id, m.alias]);
  for (const m of members) {
    await m.json(['read']);
    await m.json(['group', 'join', id]);
  }
  const everyone = [creator, ...members.map((m) => m.json)];
  const linked = async (p: ParusJson): Promise<boolean> => {
    const list = (await p(['group', 'members', id])).members as Array<{ linked: boolean }>;
    return list.length === everyone.length && list.every((m) => m.linked);
  };
  for (let i = 0; i < rounds; i++) {
    await Promise.all(everyone.map((p) => p(['read'])));
    if ((await Promise.all(everyone.map(linked))).every(Boolean)) return id;
  }
  throw new Error(`the members of ${name} did not all link in ${rounds} rounds`);
}
