/**
 * Stickers in `parus chat` and `parus group chat` (decision 0066): `/sticker` finds a built-in
 * sticker by id, name (either language) or `pack/id`, and also takes `pack/id` of any other pack
 * (one a friend imported in a browser: a sticker travels as {pack, id}, the CLI never draws it);
 * `/stickers` lists the packs, `/stickers PACK` a pack's stickers. The packs are the web client's
 * (@parus/client/sticker-packs).
 */
import { BUILT_IN_STICKER_PACKS, findBuiltInSticker } from '@parus/client/sticker-packs';
import { lang, t } from './i18n.ts';

/** A sticker's pack and id, names allowed by core's sticker-name rule (a-z, 0-9, `_`, `-`). */
const NAME = /^[a-z0-9_-]{1,32}$/;

/** The {pack, id} a `/sticker` argument means, or undefined when it names nothing. */
export function stickerFor(arg: string): { pack: string; id: string } | undefined {
  const found = findBuiltInSticker(arg);
  if (found) return { pack: found.pack, id: found.id };
  const [pack, id, more] = arg.trim().split('/');
  if (more === undefined && pack && id && NAME.test(pack) && NAME.test(id)) return { pack, id };
  return undefined;
}

/** The lines `/stickers [PACK]` prints: every pack with its stickers' ids, or one pack with names. */
export function stickerListing(arg: string): string[] {
  const l = lang();
  const want = arg.trim();
  if (want !== '') {
    const p = BUILT_IN_STICKER_PACKS.find((x) => x.pack === want || x.name[l] === want || x.name.en === want);
    if (!p) return [t('sticker.noPack', { pack: want })];
    return [
      `${p.pack}  ${p.name[l]}`,
      ...p.stickers.map((s) => `  ${s.id.padEnd(12)} ${s.name[l]}`),
      t('sticker.sendHint', { example: `/sticker ${p.pack}/${p.stickers[0]!.id}` }),
    ];
  }
  return [
    ...BUILT_IN_STICKER_PACKS.map(
      (p) => `${p.pack.padEnd(11)} ${p.name[l]}: ${p.stickers.map((s) => s.id).join(' ')}`,
    ),
    t('sticker.listHint'),
  ];
}
