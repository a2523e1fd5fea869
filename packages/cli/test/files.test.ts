// Saving received files: names never leave the folder and never overwrite a file.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { filesFolder, guessMime, safeFileName, saveUnique } from '../src/files.ts';

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

describe('saveUnique', () => {
  it('never overwrites: the next name gets (2), (3)', () => {
    const dir = join(root, 'files', 'mei');
    const a = saveUnique(dir, 'note.txt', Buffer.from('one'));
    const b = saveUnique(dir, 'note.txt', Buffer.from('two'));
    const c = saveUnique(dir, '../note.txt', Buffer.from('three'));
    expect([a, b].map((p) => p.slice(dir.length + 1))).toEqual(['note.txt', 'note (2).txt']);
    expect(dirname(c)).toBe(dir);
    expect(readFileSync(a, 'utf8')).toBe('one');
    expect(readFileSync(b, 'utf8')).toBe('two');
    writeFileSync(join(dir, 'x (2)'), 'taken');
    saveUnique(dir, 'x', Buffer.from('1'));
    expect(saveUnique(dir, 'x', Buffer.from('3')).endsWith('x (3)')).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['_note.txt', 'note (2).txt', 'note.txt', 'x', 'x (2)', 'x (3)']);
  });

  it('guesses common MIME types', () => {
    expect(guessMime('a.JPG')).toBe('image/jpeg');
    expect(guessMime('a.unknown')).toBe('application/octet-stream');
    expect(guessMime('noext')).toBe('application/octet-stream');
  });
});
