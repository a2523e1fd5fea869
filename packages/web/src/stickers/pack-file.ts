/**
 * The sticker pack file (decision 0058): one JSON document, no archive to unpack.
 *
 *   { "format": "parus-stickers/1",
 *     "pack": "my-cats",                                   a-z 0-9 _ -, 1-32, not a built-in pack
 *     "name": { "zh-TW": "我的貓", "en": "My cats" },        or one string for both
 *     "stickers": [ { "id": "hi", "name": {…} | "…",
 *                     "type": "image/svg+xml" | "image/png" | "image/webp",
 *                     "data": "<base64 of the image>" }, … ] }
 *
 * Everything is bounded (file, count, bytes per image and in total, name length), each image
 * must be what its type says (PNG and WebP by their signature, SVG as an <svg> document with
 * no script, event handler, foreign object, entity or reference outside itself), and the
 * images are only ever drawn by an <img> from a data: URL, where an SVG cannot run script
 * or fetch anything. A file that breaks any rule is refused whole with a PackFileError whose
 * `reason` names the rule; nothing is stored.
 */
import { DecodeError, QuotaError } from '@parus/core';
import {
  MAX_IMPORTED_PACKS,
  importedPacks,
  loadImportedPacks,
  saveImportedPack,
  type PackFile,
  type PackImageType,
  type PackSticker,
} from './imported.ts';
import { isBuiltInPack } from './manifest.ts';

export const PACK_FORMAT = 'parus-stickers/1';

export const PACK_LIMITS = {
  fileBytes: 4 * 1024 * 1024,
  stickers: 48,
  imageBytes: 256 * 1024,
  totalImageBytes: 3 * 1024 * 1024,
  nameChars: 40,
  /** Imported packs kept by one browser. */
  packs: MAX_IMPORTED_PACKS,
} as const;

export type { PackFile, PackImageType, PackSticker } from './imported.ts';

export type PackRefusal =
  | 'too-large'
  | 'not-json'
  | 'format'
  | 'pack-name'
  | 'built-in'
  | 'names'
  | 'count'
  | 'duplicate'
  | 'image-type'
  | 'image-too-large'
  | 'not-image'
  | 'unsafe-svg'
  | 'too-many-packs';

const QUOTA: ReadonlySet<PackRefusal> = new Set(['too-large', 'count', 'image-too-large', 'too-many-packs']);

/** Why a pack file was refused; a DecodeError (malformed) or a QuotaError (over a bound). */
export type PackFileError = (DecodeError | QuotaError) & { reason: PackRefusal };

export function packError(reason: PackRefusal): PackFileError {
  const message = `sticker pack refused: ${reason}`;
  const e = QUOTA.has(reason) ? new QuotaError(message) : new DecodeError(message);
  return Object.assign(e, { reason });
}

export function isPackFileError(e: unknown): e is PackFileError {
  return (
    (e instanceof DecodeError || e instanceof QuotaError) &&
    typeof (e as { reason?: unknown }).reason === 'string'
  );
}

/** Same rule as core's sticker names (message-body.ts): they travel in {pack, id}. */
const STICKER_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Control characters and bidirectional overrides have no place in a name. */
// eslint-disable-next-line no-control-regex
const BAD_NAME_CHARS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function name1(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (s === '' || [...s].length > PACK_LIMITS.nameChars || BAD_NAME_CHARS.test(s)) return undefined;
  return s;
}

/** A name in both languages, from {zh-TW, en} (one may stand for both) or one string. */
function names(v: unknown): { 'zh-TW': string; en: string } {
  if (typeof v === 'string') {
    const s = name1(v);
    if (s) return { 'zh-TW': s, en: s };
  } else if (isRecord(v)) {
    const zh = v['zh-TW'] === undefined ? undefined : name1(v['zh-TW']);
    const en = v.en === undefined ? undefined : name1(v.en);
    const bad = (v['zh-TW'] !== undefined && !zh) || (v.en !== undefined && !en);
    if (!bad && (zh || en)) return { 'zh-TW': (zh ?? en)!, en: (en ?? zh)! };
  }
  throw packError('names');
}

function base64Bytes(data: string): Uint8Array {
  if (data.length % 4 !== 0 || !BASE64.test(data)) throw packError('not-image');
  const bin = atob(data);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const startsWith = (b: Uint8Array, sig: readonly number[], at = 0): boolean =>
  b.length >= at + sig.length && sig.every((x, i) => b[at + i] === x);
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

/** An SVG drawn by <img> cannot run script, but one opened on its own could: refuse both. */
const UNSAFE_SVG =
  /<script|<foreignobject|<!entity|<!doctype|<iframe|<embed|<object|\son[a-z]+\s*=|javascript:|(?:href|src)\s*=\s*["']?\s*(?!#)[^\s"'>]|url\(\s*["']?\s*(?!#)|@import/i;

function checkImage(type: unknown, bytes: Uint8Array): PackImageType {
  if (type === 'image/png') {
    if (!startsWith(bytes, PNG)) throw packError('not-image');
    return type;
  }
  if (type === 'image/webp') {
    if (!startsWith(bytes, ascii('RIFF')) || !startsWith(bytes, ascii('WEBP'), 8))
      throw packError('not-image');
    return type;
  }
  if (type === 'image/svg+xml') {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw packError('not-image');
    }
    if (UNSAFE_SVG.test(text)) throw packError('unsafe-svg');
    const body = text.replace(/^\uFEFF?\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*/, '');
    if (!/^<svg[\s>]/.test(body) || !/<\/svg>\s*$/.test(body)) throw packError('not-image');
    return type;
  }
  throw packError('image-type');
}

/** Checks a pack file's bytes; the pack it describes, or a PackFileError (nothing kept). */
export function parsePackFile(bytes: Uint8Array): PackFile {
  if (bytes.length > PACK_LIMITS.fileBytes) throw packError('too-large');
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw packError('not-json');
  }
  if (!isRecord(doc) || doc.format !== PACK_FORMAT || !Array.isArray(doc.stickers)) throw packError('format');
  const pack = doc.pack;
  if (typeof pack !== 'string' || !STICKER_NAME.test(pack)) throw packError('pack-name');
  if (isBuiltInPack(pack)) throw packError('built-in');
  const packName = names(doc.name);
  const list: unknown[] = doc.stickers;
  if (list.length === 0 || list.length > PACK_LIMITS.stickers) throw packError('count');
  const seen = new Set<string>();
  let total = 0;
  const stickers = list.map((s): PackSticker => {
    if (!isRecord(s) || typeof s.data !== 'string') throw packError('format');
    if (typeof s.id !== 'string' || !STICKER_NAME.test(s.id)) throw packError('names');
    if (seen.has(s.id)) throw packError('duplicate');
    seen.add(s.id);
    // Base64 is 4/3 of the bytes: bound the text before decoding it.
    if (s.data.length > Math.ceil(PACK_LIMITS.imageBytes / 3) * 4) throw packError('image-too-large');
    const image = base64Bytes(s.data);
    if (image.length === 0) throw packError('not-image');
    if (image.length > PACK_LIMITS.imageBytes) throw packError('image-too-large');
    total += image.length;
    if (total > PACK_LIMITS.totalImageBytes) throw packError('too-large');
    const type = checkImage(s.type, image);
    return { id: s.id, name: names(s.name), type, data: s.data };
  });
  return { pack, name: packName, stickers };
}

/** The file for a pack (what `parsePackFile` reads): for tests and for pack makers. */
export function encodePackFile(p: PackFile): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ format: PACK_FORMAT, ...p }));
}

/**
 * Imports a pack file chosen by the user: checked whole (parsePackFile), kept within the
 * number of packs a browser keeps, then stored. A refusal changes nothing.
 */
export async function importPackFile(file: Blob): Promise<PackFile> {
  if (file.size > PACK_LIMITS.fileBytes) throw packError('too-large');
  const p = parsePackFile(new Uint8Array(await file.arrayBuffer()));
  await loadImportedPacks();
  const have = importedPacks();
  if (!have.some((x) => x.pack === p.pack) && have.length >= PACK_LIMITS.packs)
    throw packError('too-many-packs');
  await saveImportedPack(p);
  return p;
}
