/**
 * The sticker packs made for Parus (decision 0058): the little tit, then three birds of Taiwan.
 * A sticker travels as {pack, id} (never as an image), and each UI draws or names it from this
 * catalogue: the web client draws the SVGs it ships (public/stickers/<pack>/<file>), the CLI
 * prints names, lists the packs (`/stickers`) and finds a sticker by id or name (decision
 * 0066). Data only, no engine: the `@parus/client/sticker-packs` entry keeps it off the web
 * client's engine chunk.
 */
import barbet from './sticker-packs/barbet.json' with { type: 'json' };
import bluemagpie from './sticker-packs/bluemagpie.json' with { type: 'json' };
import parus from './sticker-packs/parus.json' with { type: 'json' };
import yellowtit from './sticker-packs/yellowtit.json' with { type: 'json' };

/** A pack's or a sticker's name in each language the UIs speak. */
export interface StickerNames {
  'zh-TW': string;
  en: string;
}

export interface BuiltInStickerPack {
  pack: string;
  name: StickerNames;
  stickers: ReadonlyArray<{ id: string; file: string; name: StickerNames }>;
}

/** The packs, in the order the pickers show them; `parus` first (a bare sticker id means it first). */
export const BUILT_IN_STICKER_PACKS: readonly BuiltInStickerPack[] = [parus, bluemagpie, yellowtit, barbet];

/**
 * The built-in sticker a person means: `pack/id` exactly, else an id or a name (zh-TW or
 * English, case-insensitive) in the first pack that has it. Undefined when none matches.
 */
export function findBuiltInSticker(
  query: string,
): { pack: string; id: string; name: StickerNames } | undefined {
  const q = query.trim();
  const slash = q.indexOf('/');
  if (slash > 0) {
    const pack = BUILT_IN_STICKER_PACKS.find((p) => p.pack === q.slice(0, slash));
    const s = pack?.stickers.find((x) => x.id === q.slice(slash + 1));
    return pack && s ? { pack: pack.pack, id: s.id, name: s.name } : undefined;
  }
  const lower = q.toLowerCase();
  for (const match of [
    (s: BuiltInStickerPack['stickers'][number]) => s.id === q,
    (s: BuiltInStickerPack['stickers'][number]) => s.name['zh-TW'] === q || s.name.en.toLowerCase() === lower,
  ]) {
    for (const p of BUILT_IN_STICKER_PACKS) {
      const s = p.stickers.find(match);
      if (s) return { pack: p.pack, id: s.id, name: s.name };
    }
  }
  return undefined;
}
