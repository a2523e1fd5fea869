/**
 * `parus profile`: my display name and avatar, sent to every contact end to end (decision 0056).
 * `--avatar FILE` takes a JPEG or PNG and makes it a JPEG of at most 256 px and 48 KiB (image.ts,
 * the code that makes send-file previews); `--no-avatar` removes it.
 */
import { readFileSync } from 'node:fs';
import { PROFILE_AVATAR_BOUNDS, QuotaError, UsageError, type AvatarBounds } from '@parus/core';
import { parse, str } from '../args.ts';
import { openAccount, resolveHome } from '../home.ts';
import { fault, t } from '../i18n.ts';
import { makeAvatar, sniffMime } from '../image.ts';
import { shown } from '../format.ts';
import type { Output } from '../output.ts';

/** The file as an avatar within the bounds (a profile's by default), or a clear UsageError / QuotaError. */
export async function avatarFrom(
  file: string,
  bounds: AvatarBounds = PROFILE_AVATAR_BOUNDS,
): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch {
    throw fault(UsageError, 'profile.unreadable', { file });
  }
  const mime = sniffMime(bytes);
  if (mime !== 'image/jpeg' && mime !== 'image/png') throw fault(UsageError, 'profile.notImage', { file });
  const avatar = await makeAvatar(bytes, bounds);
  if (!avatar) throw fault(QuotaError, 'profile.tooLarge', { file, kib: bounds.maxBytes / 1024 });
  return avatar;
}

export async function profileCommand(argv: string[], makeOut: (json: boolean) => Output): Promise<number> {
  const { values, positionals } = parse(argv, {
    name: { type: 'string' },
    avatar: { type: 'string' },
    'no-avatar': { type: 'boolean', default: false },
  });
  const out = makeOut(values.json === true);
  if (positionals.length > 0) throw fault(UsageError, 'usage.profile');
  const file = str(values, 'avatar');
  if (file !== undefined && values['no-avatar'] === true) throw fault(UsageError, 'profile.bothAvatar');
  const change: { name?: string; avatar?: Uint8Array | null } = {};
  const name = str(values, 'name');
  if (name !== undefined) change.name = name;
  if (file !== undefined) change.avatar = await avatarFrom(file);
  if (values['no-avatar'] === true) change.avatar = null;
  const account = await openAccount(resolveHome(str(values, 'home')));
  try {
    const changing = Object.keys(change).length > 0;
    if (changing) {
      await account.setProfile(change);
      await account.start();
      // Sends it now where the relays answer; the rest goes at the next sync.
      await account.sync({ timeoutMs: 20_000 }).catch(() => undefined);
    }
    const p = await account.profile();
    out.result({ name: p.name, avatar: p.avatar !== undefined, avatarBytes: p.avatar?.length ?? 0 }, () => {
      out.line(t('profile.name', { name: shown(p.name) }));
      out.line(t('profile.avatar', { state: t(p.avatar ? 'profile.avatarSet' : 'profile.avatarNone') }));
      if (changing) out.line(t('profile.sent'));
    });
  } finally {
    await account.close();
  }
  return 0;
}
