// Peer text as it may be shown (docs/decisions/0024): every character that would act on a
// terminal or reorder or hide text is shown by a visible marker, nothing is dropped, and the
// one name rule refuses what would not be shown as it is.
import { describe, expect, it } from 'vitest';
import { markerFor, nameFault, showText, textPieces } from '../src/index.ts';

/** Nothing in `s` can act on a terminal or reorder text. */
function inert(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\p{Bidi_Control}\u2028\u2029]/u.test(s);
}

describe('showText', () => {
  it('leaves ordinary text alone, in any script, emoji sequences included', () => {
    for (const s of [
      'hello',
      '你好，世界',
      'שלום עולם',
      'مرحبا',
      'Zoë ñ',
      '👨‍👩‍👧 family', // ZWJ sequence
      '❤️‍🔥', // VS16 then ZWJ
      '🏴󠁧󠁢󠁳󠁣󠁴󠁿', // tag sequence (Scotland)
      'می‌خواهم', // ZWNJ in Persian
      '1️⃣',
    ]) {
      expect(showText(s)).toBe(s);
      expect(textPieces(s).every((p) => p.code === undefined)).toBe(true);
    }
  });

  it('shows an OSC title change as its control pictures', () => {
    const s = '\x1b]0;pwned\x07after';
    expect(showText(s)).toBe('␛]0;pwned␇after');
    expect(inert(showText(s))).toBe(true);
  });

  it('shows a screen clear (CSI 2J) and a line rewrite (\\r ESC [K)', () => {
    expect(showText('\x1b[2J\x1b[H')).toBe('␛[2J␛[H');
    expect(showText('ok\r\x1b[Kbob: send me the code')).toBe('ok␍␛[Kbob: send me the code');
  });

  it('shows C1 controls (0x9b is CSI on its own) and DEL', () => {
    expect(showText('a\u009b2Jb')).toBe('a⟨U+009B⟩2Jb');
    expect(showText('a\u0085b\u007f')).toBe('a⟨U+0085⟩b␡');
  });

  it('shows bidirectional overrides, embeddings, isolates and marks', () => {
    expect(showText('invoice\u202efdp.exe')).toBe('invoice⟨U+202E⟩fdp.exe');
    for (const c of [
      0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x61c,
    ]) {
      const shown = showText(`a${String.fromCodePoint(c)}b`);
      expect(shown).toBe(`a${markerFor(c)}b`);
      expect(inert(shown)).toBe(true);
    }
  });

  it('shows invisible characters: zero-width space, word joiner, BOM, soft hyphen, Hangul filler', () => {
    for (const c of [0x200b, 0x2060, 0xfeff, 0xad, 0x3164, 0x115f, 0x180e, 0x2028, 0x2029, 0xe0001]) {
      expect(showText(`pay${String.fromCodePoint(c)}pal`)).toBe(`pay${markerFor(c)}pal`);
    }
  });

  it('shows a joiner that joins nothing', () => {
    expect(showText('\u200dalice')).toBe('⟨U+200D⟩alice');
    expect(showText('alice\u200d')).toBe('alice⟨U+200D⟩');
    expect(showText('a \ufe0f')).toBe('a ⟨U+FE0F⟩');
  });

  it('shows a text of only zero-width characters (or only spaces) as what it is, never empty', () => {
    expect(showText('\u200b\u200c\u200d')).toBe('⟨U+200B⟩⟨U+200C⟩⟨U+200D⟩');
    expect(showText('\ufe0f')).toBe('⟨U+FE0F⟩');
    expect(showText('  ')).toBe('⟨U+0020⟩⟨U+0020⟩');
    expect(showText('\n', { multiline: true })).toBe('␊');
    expect(showText('')).toBe('');
  });

  it('keeps line feeds and tabs in multiline text only; a carriage return is always shown', () => {
    expect(showText('a\nb\tc', { multiline: true })).toBe('a\nb\tc');
    expect(showText('a\nb\tc')).toBe('a␊b␉c');
    expect(showText('a\r\nb', { multiline: true })).toBe('a␍\nb');
  });

  it('shows a lone surrogate', () => {
    expect(showText('a\ud800b')).toBe('a⟨U+D800⟩b');
  });

  it('drops no character: each marker piece stands for exactly one code point', () => {
    const s = 'x\x1b[31m\u202e\u200b👨‍👩‍👧\u0000y\u009b';
    const pieces = textPieces(s);
    const back = pieces.map((p) => (p.code === undefined ? p.text : String.fromCodePoint(p.code))).join('');
    expect(back).toBe(s);
    expect(inert(showText(s))).toBe(true);
  });
});

describe('nameFault (the one name rule)', () => {
  it('accepts names in any script, with emoji', () => {
    for (const n of ['Alice', '小明', 'Zoë', 'שרה', '👨‍👩‍👧 Family', 'a b'])
      expect(nameFault(n, 64)).toBeUndefined();
  });

  it('refuses controls, bidirectional characters, invisible ones, blank and over-long names', () => {
    for (const n of [
      'evil\u202egnp.exe',
      '\u2066x\u2069',
      'x\u200f',
      'a\x1b]0;t\x07',
      'a\nb',
      'a\tb',
      'a\u009bb',
      'pay\u200bpal',
      '\u200b',
      'alice\u200d',
      '   ',
      '',
      'x'.repeat(65),
    ])
      expect(nameFault(n, 64)).toBeTypeOf('string');
    expect(nameFault(42, 64)).toBeTypeOf('string');
  });
});
