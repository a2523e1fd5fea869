/**
 * Files on the terminal side: saving received files into `<home>/files/<alias>/`, streamed
 * through a temporary file, under a sanitised name that never leaves that folder and never
 * overwrites anything, guessing a MIME type from a file name, and progress lines on stderr.
 */
import { existsSync, linkSync, mkdirSync, renameSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { extname, join, resolve, sep } from 'node:path';
import { StorageError } from '@parus/core';
import type { FileSink, TransferProgress } from '@parus/client';
import { fault, t } from './i18n.ts';
import { terminalSafe } from './output.ts';

/** Longest name written, in UTF-8 bytes (file systems allow 255). */
const MAX_NAME_BYTES = 200;

/**
 * A name that is one plain file name on every common file system: no path separators, no
 * control characters, no characters Windows refuses, no leading dots (so neither `..` nor a
 * hidden file), at most 200 UTF-8 bytes with its extension kept.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069/\\<>:"|?*]/gu;

export function safeFileName(name: string, fallback = 'file'): string {
  let s = name.normalize('NFC').replace(UNSAFE, '_');
  s = s.replace(/^[.\s]+/u, '').replace(/[.\s]+$/u, '');
  if (/^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/iu.test(s)) s = `_${s}`;
  if (s === '') s = fallback;
  const ext = extname(s).slice(0, 16);
  let stem = s.slice(0, s.length - ext.length);
  while (Buffer.byteLength(stem + ext) > MAX_NAME_BYTES) stem = [...stem].slice(0, -1).join('');
  return stem === '' ? `${fallback}${ext}` : stem + ext;
}

/**
 * Streams a file into `folder` as `name` (or `name (2)`, `name (3)`… when taken, so nothing is ever
 * overwritten): `fill` writes the
 * chunks into a sink backed by a hidden temporary file in that folder (0600, created
 * exclusively); only when `fill` resolves (the download checked its hash) does the file get
 * its name, by a hard link that fails rather than replace anything, and the temporary name
 * goes. When `fill` throws, the temporary file is deleted and its error passed on.
 */
export async function saveStreamed(
  folder: string,
  name: string,
  fill: (sink: FileSink) => Promise<void>,
): Promise<string> {
  const dir = resolve(folder);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.parus-download-${randomBytes(8).toString('hex')}.part`);
  let handle;
  try {
    handle = await open(temp, 'wx', 0o600);
  } catch (e) {
    throw fault(StorageError, 'file.cannotSave', {}, { cause: e });
  }
  try {
    try {
      await fill({
        write: async (chunk) => {
          try {
            for (let off = 0; off < chunk.length; )
              off += (await handle.write(chunk, off, chunk.length - off)).bytesWritten;
          } catch (e) {
            throw fault(StorageError, 'file.cannotSave', {}, { cause: e });
          }
        },
      });
      await handle.sync();
    } finally {
      await handle.close();
    }
    return placeUnique(dir, name, temp);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // Already gone.
    }
  }
}

/** Gives the finished temporary file `temp` the first free one of `name`, `name (2)`…. */
function placeUnique(dir: string, name: string, temp: string): string {
  const safe = safeFileName(name);
  const ext = extname(safe);
  const stem = safe.slice(0, safe.length - ext.length);
  for (let i = 1; i <= 1000; i++) {
    const path = join(dir, i === 1 ? safe : `${stem} (${i})${ext}`);
    if (!path.startsWith(dir + sep)) throw fault(StorageError, 'file.escapes');
    try {
      linkSync(temp, path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      // A file system without hard links: rename, after checking the name is free.
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS')
        throw fault(StorageError, 'file.cannotSave', {}, { cause: e });
      if (existsSync(path)) continue;
      renameSync(temp, path);
    }
    return path;
  }
  throw fault(StorageError, 'file.tooMany');
}

/** The folder received files of `alias` go to. */
export function filesFolder(home: string, alias: string): string {
  return join(home, 'files', safeFileName(alias, 'contact'));
}

const MIME_BY_EXTENSION: Record<string, string> = {
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.html': 'text/html',
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.heic': 'image/heic',
  '.mp3': 'audio/mpeg',
  '.m4a': 'audio/mp4',
  '.ogg': 'audio/ogg',
  '.opus': 'audio/ogg',
  '.mp4': 'video/mp4',
  '.mov': 'video/quicktime',
  '.webm': 'video/webm',
};

export function guessMime(name: string): string {
  return MIME_BY_EXTENSION[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A progress callback that redraws one line on stderr, only when stderr is a terminal. */
export function progressLine(label: string): { onProgress?: (p: TransferProgress) => void; end: () => void } {
  if (!process.stderr.isTTY) return { end: () => undefined };
  let shown = false;
  return {
    onProgress: (p) => {
      const pct = p.total === 0 ? 100 : Math.floor((p.done / p.total) * 100);
      process.stderr.write(
        `\r\x1b[2K${terminalSafe(t('file.progress', { label, pct, done: formatBytes(p.done), total: formatBytes(p.total) }))}`,
      );
      shown = true;
    },
    end: () => {
      if (shown) process.stderr.write('\n');
    },
  };
}
