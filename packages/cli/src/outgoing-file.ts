/**
 * A file from the disk made ready to send (`send-file`, `group send-file`): read after a size
 * check, its type from its first bytes (then the extension; `--mime` over both), and the
 * preview the web client shows in the bubble (JPEG and PNG photos, image.ts). Every refusal is
 * a typed error before anything opens or uploads.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { MAX_FILE_BYTES, QuotaError, UsageError, isFileName, isMimeType } from '@parus/core';
import type { OutgoingFile } from '@parus/client';
import { guessMime } from './files.ts';
import { fault } from './i18n.ts';
import { makeThumbnail, sniffMime } from './image.ts';

export async function readOutgoingFile(
  path: string,
  opts: { name?: string | undefined; mime?: string | undefined },
): Promise<OutgoingFile> {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (cause) {
    throw fault(UsageError, 'error.cannotRead', { path }, { cause });
  }
  if (size > MAX_FILE_BYTES) throw fault(QuotaError, 'error.fileTooLarge', { bytes: MAX_FILE_BYTES });
  const bytes = new Uint8Array(readFileSync(path));
  const name = opts.name ?? basename(path);
  // The type the bytes announce first: a photo named without (or with a wrong) extension still
  // shows as a photo. The extension decides for the rest; --mime overrides both.
  const mime = opts.mime ?? sniffMime(bytes) ?? guessMime(name);
  // The same checks as the engine's (and a peer's decoder).
  if (!isFileName(name)) throw fault(UsageError, 'error.fileName');
  if (!isMimeType(mime)) throw fault(UsageError, 'error.mime');
  const thumbnail = await makeThumbnail(bytes, mime);
  return { name, mime, bytes, ...(thumbnail ? { thumbnail } : {}) };
}
