// Saving received files: names never leave the folder and never overwrite a file.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VerificationError } from '@parus/core';
import { filesFolder, guessMime, safeFileName, saveStreamed } from '../src/files.ts';

/** Saves `bytes` through the streaming path, in two chunks. */
function saveUnique(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  return saveStreamed(dir, name, async (sink) => {
    await sink.write(bytes.subarray(0, 1));
    await sink.write(bytes.subarray(1));
  });
}

const root = mkdtempSync(join(tmpdir(), 'parus-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('safeFileName', () => {
  it('makes one plain name of anything', () => {
    const cases: Array<[string, string]> = [
      ['照片.jpg', '照片.jpg'],
      ['../../etc/passwd', '_.._etc_passwd'],
      ['..', 'file'],
      ['.bashrc', 'bashrc'],
      ['a\\b:c*?.txt', 'a_b_c__.txt'],
      ['line\nbreak\u0000.txt', 'line_break_.txt'],
      ['evil\u202etxt.exe', 'evil_txt.exe'],
      ['CON.txt', '_CON.txt'],
      ['   ', 'file'],
      ['trailing dots...', 'trailing dots'],
    ];
    for (const [name, want] of cases) expect(safeFileName(name)).toBe(want);
    const long = safeFileName(`${'長'.repeat(300)}.pdf`);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(200);
    expect(long.endsWith('.pdf')).toBe(true);
  });

  it('keeps contact folders inside the files folder', () => {
    expect(filesFolder('/home/x', '../../root')).toBe('/home/x/files/_.._root');
    expect(filesFolder('/home/x', '小美')).toBe('/home/x/files/小美');
  });
});

describe('saveStreamed', () => {
  it('never overwrites: the next name gets (2), (3)', async () => {
    const dir = join(root, 'files', 'mei');
    const a = await saveUnique(dir, 'note.txt', Buffer.from('one'));
    const b = await saveUnique(dir, 'note.txt', Buffer.from('two'));
    const c = await saveUnique(dir, '../note.txt', Buffer.from('three'));
    expect([a, b].map((p) => p.slice(dir.length + 1))).toEqual(['note.txt', 'note (2).txt']);
    expect(dirname(c)).toBe(dir);
    expect(readFileSync(a, 'utf8')).toBe('one');
    expect(readFileSync(b, 'utf8')).toBe('two');
    writeFileSync(join(dir, 'x (2)'), 'taken');
    await saveUnique(dir, 'x', Buffer.from('1'));
    expect((await saveUnique(dir, 'x', Buffer.from('3'))).endsWith('x (3)')).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['_note.txt', 'note (2).txt', 'note.txt', 'x', 'x (2)', 'x (3)']);
    expect(statSync(a).mode & 0o777).toBe(0o600);
  });

  it('writes into a 0600 temporary file in the folder, and names it only when the download succeeds', async () => {
    const dir = join(root, 'files', 'streamed');
    let during: string[] = [];
    const path = await saveStreamed(dir, 'big.bin', async (sink) => {
      await sink.write(Buffer.from('first '));
      during = readdirSync(dir);
      expect(statSync(join(dir, during[0]!)).mode & 0o777).toBe(0o600);
      await sink.write(Buffer.from('second'));
    });
    expect(during).toHaveLength(1);
    expect(during[0]).toMatch(/^\.parus-download-[0-9a-f]{16}\.part$/);
    expect(readFileSync(path, 'utf8')).toBe('first second');
    expect(readdirSync(dir)).toEqual(['big.bin']);
  });

  it('deletes the temporary file and passes the typed error on when the download fails', async () => {
    const dir = join(root, 'files', 'failed');
    const failing = saveStreamed(dir, 'bad.bin', async (sink) => {
      await sink.write(Buffer.from('unverified plaintext'));
      throw new VerificationError('file does not match the hash in its message');
    });
    await expect(failing).rejects.toThrow(VerificationError);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('guesses common MIME types', () => {
    expect(guessMime('a.JPG')).toBe('image/jpeg');
    expect(guessMime('a.unknown')).toBe('application/octet-stream');
    expect(guessMime('noext')).toBe('application/octet-stream');
  });
});
