// Short room links from the command line (decision 0059): `parus group link` prints the short
// `parus:r/` link (QR version ≤ 10) and `--long` the full one; `parus group join` takes both; a
// rotated (spent), expired, forged, malformed or unreachable short link is refused with the same
// error class and message as the long form, in the user's language.
import { createServer } from 'node:net';
import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { decodeCbor, encodeCbor, fromBase64Url, shortRoomLinkToText, toBase64Url } from '@parus/core';
import { cliWorld } from './support/cli-world.ts';

const { parus, json, relayAddress, setClock } = cliWorld('short-room');

function errorOf(stdout: string): { name: string; code: string; message: string } {
  return (
    JSON.parse(stdout.trim().split('\n').pop()!) as { error: { name: string; code: string; message: string } }
  ).error;
}

/** A loopback port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

const ZH = { LANG: 'zh_TW.UTF-8' };

describe('short room links', () => {
  it('prints a short link that joins; --long prints the full one; rotation withdraws the old one', async () => {
    for (const who of ['alice', 'bob', 'carol'] as const)
      await json(who, ['init', '--name', who[0]!.toUpperCase() + who.slice(1), '--relay', relayAddress()]);
    const created = await json('alice', ['group', 'create', 'Plaza', '--public']);
    const id = (created.group as { id: string }).id;

    const linked = await json('alice', ['group', 'link', 'Plaza']);
    const short = linked.link as string;
    expect(short.startsWith('parus:r/')).toBe(true);
    expect(linked.short).toBe(true);
    expect((linked.longLink as string).startsWith('parus:room/')).toBe(true);
    expect((linked.longLink as string).length).toBeGreaterThan(2000);
    for (const level of ['L', 'M'] as const)
      expect(QRCode.create(short, { errorCorrectionLevel: level }).version).toBeLessThanOrEqual(10);
    // The same link again (the record is kept), and --long gives the full one.
    expect((await json('alice', ['group', 'link', 'Plaza'])).link).toBe(short);
    const long = await json('alice', ['group', 'link', 'Plaza', '--long']);
    expect(long.link).toBe(linked.longLink);
    expect(long.short).toBe(false);

    const joined = await json('bob', ['group', 'join', short, '--nick', 'bob']);
    expect((joined.group as { id: string }).id).toBe(id);

    // Rotation: a new short link; the old one's record is gone, told at once (PROTOCOL), both forms.
    const rotated = await json('alice', ['group', 'link', 'Plaza', '--rotate']);
    expect(rotated.link).not.toBe(short);
    expect((rotated.link as string).startsWith('parus:r/')).toBe(true);
    const spent = await parus('carol', ['group', 'join', short, '--json']);
    expect(spent.code).toBe(1);
    expect(errorOf(spent.stdout).name).toBe('ProtocolError');
    const told = await parus('carol', ['group', 'join', short], ZH);
    expect(told.code).toBe(1);
    expect(told.stderr).toContain('這個連結已經用過、已撤回或已過期');
    expect(told.stderr).toContain('ProtocolError');
    expect((await json('carol', ['group', 'list'])).groups).toEqual([]);
  }, 300_000);

  it('refuses an expired, forged, malformed or unreachable short link as the long form', async () => {
    const linked = await json('alice', ['group', 'link', 'Plaza']);
    const short = linked.link as string;
    const long = linked.longLink as string;

    // Expired: Carol's clock past the door card's year; the long form says the same.
    setClock('carol', '+400d');
    const messages: string[] = [];
    try {
      for (const link of [short, long]) {
        const r = await parus('carol', ['group', 'join', link, '--json']);
        expect(r.code).toBe(1);
        expect(errorOf(r.stdout).name).toBe('ProtocolError');
        messages.push(errorOf(r.stdout).message);
      }
    } finally {
      setClock('carol', undefined);
    }
    expect(messages[0]).toBe(messages[1]);

    // Forged: a byte of the key (the record does not open) or of the long link's signature.
    const bytes = Buffer.from(short.slice('parus:r/'.length), 'base64url');
    bytes[1 + 32 + 16 + 5]! ^= 1;
    const forgedShort = `parus:r/${bytes.toString('base64url')}`;
    const map = decodeCbor(fromBase64Url(long.slice('parus:room/'.length))) as Record<string, Uint8Array>;
    const sig = map.sig!.slice();
    sig[0]! ^= 1;
    const forgedLong = `parus:room/${toBase64Url(encodeCbor({ ...map, sig }))}`;
    for (const link of [forgedShort, forgedLong]) {
      const r = await parus('carol', ['group', 'join', link, '--json']);
      expect(r.code).toBe(1);
      expect(errorOf(r.stdout).name).toBe('VerificationError');
    }
    const forgedZh = await parus('carol', ['group', 'join', forgedShort], ZH);
    expect(forgedZh.stderr).toContain('這個連結驗證失敗');

    // Malformed.
    for (const link of ['parus:r/AAAA', 'parus:room/AAAA']) {
      const r = await parus('carol', ['group', 'join', link, '--json']);
      expect(r.code).toBe(1);
      expect(errorOf(r.stdout).name).toBe('DecodeError');
    }

    // Unreachable: a relay address on a port nothing listens on.
    const dead = shortRoomLinkToText({
      relay: `parus://${toBase64Url(new Uint8Array(32).fill(9))}@127.0.0.1:${await deadPort()}`,
      cid: new Uint8Array(16).fill(1),
      key: new Uint8Array(32).fill(2),
    });
    const unreachable = await parus('carol', ['group', 'join', dead, '--json']);
    expect(unreachable.code).toBe(1);
    expect(['TransportError', 'TimeoutError']).toContain(errorOf(unreachable.stdout).name);
    const unreachableZh = await parus('carol', ['group', 'join', dead], ZH);
    expect(unreachableZh.stderr).toContain('目前連不上這個連結的中繼站');
    expect((await json('carol', ['group', 'list'])).groups).toEqual([]);
  }, 300_000);
});
