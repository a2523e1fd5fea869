/**
 * The relay's data folder is for the relay alone: the folder 0700, its files 0600 (queues,
 * blobs and the server key hold nothing readable, but their sizes and times are metadata).
 * Folders and databases made by an earlier version, or by hand, are tightened on start.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { StorageError } from '@parus/core';

/** Makes `dir` (and its parents) if needed, and leaves it 0700. */
export function makePrivateFolder(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if ((statSync(dir).mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  } catch (cause) {
    throw new StorageError(`cannot prepare the folder ${dir}`, { cause });
  }
}

/**
 * Before SQLite opens `path`: the database exists and is 0600, and so are its journal files
 * if any. SQLite gives the journal files it creates the mode of the database file.
 */
export function preparePrivateDatabase(path: string): void {
  try {
    if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
    for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
      if (existsSync(file) && (statSync(file).mode & 0o777) !== 0o600) chmodSync(file, 0o600);
    }
  } catch (cause) {
    throw new StorageError(`cannot prepare the database ${path}`, { cause });
  }
}
