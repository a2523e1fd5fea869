// The browser's check of a file before it is read (compose/outgoing-file.ts) agrees with the
// engine's limit, and refuses with the error the file messages translate (file.tooBig).
import { describe, expect, it } from 'vitest';
import { MAX_FILE_BYTES as ENGINE_MAX } from '@parus/core';
import { FileTooLargeError, MAX_FILE_BYTES, mimeOf, outgoingFile } from '../src/compose/outgoing-file.ts';
import { fileErrorText } from '../src/errors.ts';

describe('outgoing files in the browser', () => {
  it('the limit is the engine’s; a larger file is refused before it is read', async () => {
    expect(MAX_FILE_BYTES).toBe(ENGINE_MAX);
    let read = false;
    const big = {
      name: 'big.bin',
      type: '',
      size: MAX_FILE_BYTES + 1,
      arrayBuffer: () => {
        read = true;
        return Promise.resolve(new ArrayBuffer(0));
      },
    } as unknown as File;
    const e = await outgoingFile(big).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileTooLargeError);
    expect(read).toBe(false);
    expect(fileErrorText(e, (k) => k)).toBe('file.tooBig');
  });

  it('a file within the limit keeps its name and type; an odd type becomes the generic one', async () => {
    const f = new File([new Uint8Array([1, 2, 3])], '筆記.txt', { type: 'text/plain' });
    const got = await outgoingFile(f);
    expect(got).toMatchObject({ name: '筆記.txt', mime: 'text/plain' });
    expect(Array.from(got.bytes)).toEqual([1, 2, 3]);
    expect(mimeOf(new File([], 'x', { type: 'not a type' }))).toBe('application/octet-stream');
  });
});
