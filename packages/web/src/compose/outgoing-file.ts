/**
 * A picked, pasted or dropped file made ready to send, for groups as for 1:1 chats: its MIME
 * type (browsers leave `type` empty for many files), the preview a photo carries, and a file
 * too large refused before it is read into memory (named QuotaError, shown as file.tooBig).
 */
import type { OutgoingFile } from '@parus/client';
import { isImage, makeThumbnail } from './thumbnail.ts';

/**
 * The engine's MAX_FILE_BYTES (core file-stream.ts), repeated here so that the first screen does
 * not load core (test/outgoing-file.test.ts checks that the two agree).
 */
export const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** A file over MAX_FILE_BYTES, refused before reading it: the engine's QuotaError by name. */
export class FileTooLargeError extends Error {
  override readonly name = 'QuotaError';
}

/** A MIME type the engine accepts, or the generic one. */
export function mimeOf(file: File): string {
  return /^[\w.+-]+\/[\w.+-]+$/.test(file.type) ? file.type : 'application/octet-stream';
}

export async function outgoingFile(f: File): Promise<OutgoingFile> {
  if (f.size > MAX_FILE_BYTES) throw new FileTooLargeError(`file larger than ${MAX_FILE_BYTES} bytes`);
  const mime = mimeOf(f);
  const bytes = new Uint8Array(await f.arrayBuffer());
  const thumbnail = isImage(mime) ? await makeThumbnail(f) : undefined;
  return { name: f.name || 'file', mime, bytes, ...(thumbnail ? { thumbnail } : {}) };
}
