// Short invitations from the command line (decision 0045): `parus invite` prints the short link,
// `parus add` takes it (and the long one), and every bad link is a typed error, as in the browser.
import { describe, expect, it } from 'vitest';
import { cliWorld } from './support/cli-world.ts';

const { parus, json, relayAddress } = cliWorld('short-invite');

function errorOf(stdout: string): { name: string; code: string } {
  return (JSON.parse(stdout.trim().split('\n').pop()!) as { error: { name: string; code: string } }).error;
}

describe('parus invite and parus add with short links', () => {
  it('invites with a short link, refuses it once spent, and tells a friend pasting an old link', async () => {
    for (const who of ['alice', 'bob', 'carol'] as const)
      await json(who, ['init', '--name', who[0]!.toUpperCase() + who.slice(1), '--relay', relayAddress()]);

    const invite = await json('alice', ['invite']);
    const link = invite.link as string;
    expect(link.startsWith('parus:i/')).toBe(true);
    expect(link.length).toBeLessThan(200);
    expect(invite.short).toBe(true);
    expect((invite.longLink as string).length).toBeGreaterThan(2000);

    const added = await json('bob', ['add', link, '--alias', 'alice']);
    expect((added.contact as { alias: string }).alias).toBe('alice');
    await json('alice', ['read']);
    await json('bob', ['read']);

    // Spent: Carol is told at once, with the long form's error (PROTOCOL), and nothing is added.
    let refused: { code: number; stdout: string } | undefined;
    for (let i = 0; i < 20; i++) {
      refused = await parus('carol', ['add', link, '--alias', 'alice', '--json']);
      if (refused.code !== 0) break;
    }
    expect(refused!.code).toBe(1);
    expect(errorOf(refused!.stdout).name).toBe('ProtocolError');
    expect((await json('carol', ['contacts'])).contacts).toEqual([]);

    // Bob pasting Alice's link again: "already friends", not a key warning.
    const again = await json('bob', ['add', invite.longLink as string, '--alias', 'alice']);
    expect(again.already).toBe(true);

    // Malformed and forged short links: DecodeError and VerificationError.
    const malformed = await parus('carol', ['add', 'parus:i/AAAA', '--json']);
    expect(errorOf(malformed.stdout).name).toBe('DecodeError');
    const fresh = (await json('alice', ['invite'])).link as string;
    const bytes = Buffer.from(fresh.slice('parus:i/'.length), 'base64url');
    bytes[1 + 32 + 16 + 5]! ^= 1; // a byte of the key
    const forged = `parus:i/${bytes.toString('base64url')}`;
    const wrong = await parus('carol', ['add', forged, '--alias', 'a', '--json']);
    expect(errorOf(wrong.stdout).name).toBe('VerificationError');

    // The long form still works, and --long prints it.
    const long = await json('alice', ['invite', '--long']);
    expect((long.link as string).startsWith('parus:i/')).toBe(false);
    expect((await json('carol', ['accept', long.link as string, '--alias', 'alice'])).contact).toBeDefined();
  }, 240_000);

  it('the reusable card is my QR code: the same until --reset, then the old one is refused', async () => {
    const first = await json('alice', ['invite', '--reusable']);
    expect(first.link as string).toMatch(/^parus:i\//);
    expect((await json('alice', ['invite', '--reusable'])).link).toBe(first.link);
    const reset = await json('alice', ['invite', '--reusable', '--reset']);
    expect(reset.link).not.toBe(first.link);
    const refused = await parus('bob', ['add', first.link as string, '--alias', 'alice2', '--json']);
    expect(errorOf(refused.stdout).name).toBe('ProtocolError');
  }, 180_000);
});
