/**
 * Files on the terminal side: saving received files into `<home>/files/<alias>/` under a
 * sanitised name that never leaves that folder and never overwrites anything, guessing a
 * MIME type from a file name, and progress lines on stderr.
 */
import { mkdirSync, openSync, closeSync, writeSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { StorageError } from '@parus/core';
import type { TransferProgress } from '@parus/client';
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
 * Writes `bytes` into `folder` as `name`, or `name (2)`, `name (3)`… when taken: the file
 * is created exclusively, so nothing is ever overwritten. Returns the path written.
 */
export function saveUnique(folder: string, name: string, bytes: Uint8Array): string {
  const dir = resolve(folder);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const safe = safeFileName(name);
  const ext = extname(safe);
  const stem = safe.slice(0, safe.length - ext.length);
  for (let i = 1; i <= 1000; i++) {
    const path = join(dir, i === 1 ? safe : `${stem} (${i})${ext}`);
    // A last guard: whatever the name was, the path stays inside the folder.
    if (!path.startsWith(dir + sep)) throw new StorageError('file name escapes the files folder');
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new StorageError('cannot save the file', { cause: e });
    }
    try {
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    } finally {
      closeSync(fd);
    }
    return path;
  }
  throw new StorageError('too many files with this name');
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
        `\r\x1b[2K${terminalSafe(label)}: ${pct}% (${formatBytes(p.done)} of ${formatBytes(p.total)})`,
      );
      shown = true;
    },
    end: () => {
      if (shown) process.stderr.write('\n');
    },
  };
}
