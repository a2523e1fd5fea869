/**
 * Built-in sticker packs. A sticker travels as {pack, id} (never as an image), and each
 * side draws it from its own copy of the pack. The SVG files are static assets in
 * public/stickers/<pack>/ (fetched only when a sticker is shown, so they cost the first
 * screen nothing); the manifests (packages/client/src/sticker-packs/, shared with the CLI's
 * `/sticker` and `/stickers`, decision 0066) name each pack and sticker in both languages. Packs imported from a file (imported.ts, decision 0058) come after these.
 */
import type { Lang } from '../i18n.ts';
import { BUILT_IN_STICKER_PACKS } from '@parus/client/sticker-packs';

export interface StickerInfo {
  pack: string;
  id: string;
  /** Relative to the page (the build uses base './'), or a data: URL for an imported pack. */
  url: string;
  name: Record<Lang, string>;
}

export interface StickerPack {
  pack: string;
  name: Record<Lang, string>;
  stickers: readonly StickerInfo[];
  /** Imported from a file (removable), not built in. */
  imported?: boolean;
}

interface PackManifest {
  pack: string;
  name: Record<Lang, string>;
  stickers: ReadonlyArray<{ id: string; file: string; name: Record<Lang, string> }>;
}

function load(manifest: PackManifest): StickerPack {
  return {
    pack: manifest.pack,
    name: manifest.name,
    stickers: manifest.stickers.map((s) => ({
      pack: manifest.pack,
      id: s.id,
      url: `stickers/${manifest.pack}/${s.file}`,
      name: s.name,
    })),
  };
}

/** The packs made for Parus: the little tit, then three birds of Taiwan. */
export const PACKS: readonly StickerPack[] = BUILT_IN_STICKER_PACKS.map(load);

/** The built-in sticker for {pack, id}, or undefined for one this client does not ship. */
export function findSticker(pack: string, id: string): StickerInfo | undefined {
  return PACKS.find((p) => p.pack === pack)?.stickers.find((s) => s.id === id);
}

export function isBuiltInPack(pack: string): boolean {
  return PACKS.some((p) => p.pack === pack);
}
