/**
 * Built-in sticker packs. A sticker travels as {pack, id} (never as an image), and each
 * side draws it from its own copy of the pack. The SVG files are static assets in
 * public/stickers/<pack>/ (fetched only when a sticker is shown, so they cost the first
 * screen nothing); the manifest beside this file names each one in both languages.
 */
import type { Lang } from '../i18n.ts';
import parus from './parus.json';

export interface StickerInfo {
  pack: string;
  id: string;
  /** Relative to the page (the build uses base './'). */
  url: string;
  name: Record<Lang, string>;
}

interface PackManifest {
  pack: string;
  stickers: ReadonlyArray<{ id: string; file: string; name: Record<Lang, string> }>;
}

function load(manifest: PackManifest): StickerInfo[] {
  return manifest.stickers.map((s) => ({
    pack: manifest.pack,
    id: s.id,
    url: `stickers/${manifest.pack}/${s.file}`,
    name: s.name,
  }));
}

export const PACKS: ReadonlyArray<{ pack: string; stickers: readonly StickerInfo[] }> = [
  { pack: parus.pack, stickers: load(parus) },
];

/** The sticker for {pack, id}, or undefined for one this client does not have. */
export function findSticker(pack: string, id: string): StickerInfo | undefined {
  return PACKS.find((p) => p.pack === pack)?.stickers.find((s) => s.id === id);
}
