/**
 * Sticker packs imported from files (decision 0058), kept by this browser in their own
 * IndexedDB database (a preference of the browser, like the mutes; not part of an account).
 * They are read once into memory and listed after the built-in packs; components follow
 * changes through `useImportedPacks`. Only checked packs are stored (pack-file.ts). This
 * module is on the first screen's path (StickerView); the checks load only on an import.
 */
import { useEffect, useState } from 'preact/hooks';
import type { StickerInfo, StickerPack } from './manifest.ts';

export const STICKER_DATABASE = 'parus-stickers';
/** Imported packs kept by one browser (pack-file.ts refuses one more with a QuotaError). */
export const MAX_IMPORTED_PACKS = 16;
const STORE = 'packs';

/** A checked pack as a pack file describes it (pack-file.ts reads and checks the file). */
export type PackImageType = 'image/svg+xml' | 'image/png' | 'image/webp';

export interface PackSticker {
  id: string;
  name: { 'zh-TW': string; en: string };
  type: PackImageType;
  /** The image, base64 (checked); drawn as `data:${type};base64,${data}`. */
  data: string;
}

export interface PackFile {
  pack: string;
  name: { 'zh-TW': string; en: string };
  stickers: PackSticker[];
}

interface StoredPack extends PackFile {
  added: number;
}

let packs: StickerPack[] = [];
let loading: Promise<void> | undefined;
const listeners = new Set<() => void>();

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(STICKER_DATABASE, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'pack' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('indexedDB.open failed'));
  });
}

async function run<T>(mode: IDBTransactionMode, work: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error('sticker pack store failed'));
      tx.onabort = () => reject(tx.error ?? new Error('sticker pack store aborted'));
    });
  } finally {
    db.close();
  }
}

function toPack(p: StoredPack): StickerPack {
  return {
    pack: p.pack,
    name: p.name,
    imported: true,
    stickers: p.stickers.map(
      (s): StickerInfo => ({ pack: p.pack, id: s.id, name: s.name, url: `data:${s.type};base64,${s.data}` }),
    ),
  };
}

async function reload(): Promise<void> {
  const all = (await run('readonly', (s) => s.getAll())) as StoredPack[];
  packs = all.sort((a, b) => a.added - b.added).map(toPack);
  for (const l of listeners) l();
}

/** Reads the stored packs once (again after a change); never throws (no packs then). */
export function loadImportedPacks(): Promise<void> {
  loading ??= reload().catch(() => undefined);
  return loading;
}

export function importedPacks(): readonly StickerPack[] {
  return packs;
}

/**
 * Keeps a pack checked by pack-file.ts (`importPackFile`, which also keeps the count within
 * MAX_IMPORTED_PACKS); one with the same name is replaced.
 */
export async function saveImportedPack(p: PackFile): Promise<void> {
  const stored: StoredPack = { ...p, added: Date.now() };
  await run('readwrite', (s) => s.put(stored));
  loading = reload();
  await loading;
}

export async function removeImportedPack(pack: string): Promise<void> {
  await run('readwrite', (s) => s.delete(pack));
  loading = reload();
  await loading;
}

export function findImportedSticker(pack: string, id: string): StickerInfo | undefined {
  return packs.find((p) => p.pack === pack)?.stickers.find((s) => s.id === id);
}

/** The imported packs, kept current (loads them on first use). */
export function useImportedPacks(): readonly StickerPack[] {
  const [list, setList] = useState(packs);
  useEffect(() => {
    const update = (): void => setList(packs);
    listeners.add(update);
    void loadImportedPacks().then(update);
    return () => {
      listeners.delete(update);
    };
  }, []);
  return list;
}
