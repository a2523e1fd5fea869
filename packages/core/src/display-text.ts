/**
 * Peer text as it may be shown (docs/decisions/0024). A contact, a group member or a file
 * sender controls every character of a name, a message, a topic or a file name; shown raw,
 * control characters act on a terminal (OSC title changes, screen clears, `\r` and
 * `ESC [ K` rewriting a line) and bidirectional controls reorder what follows them
 * (`invoice<U+202E>fdp.exe` reads "invoiceexe.pdf"). Here no character is dropped and
 * none can act: each one that would act or stay invisible is shown by a visible marker.
 *
 * Marked: C0 controls and DEL as their Unicode control pictures (␛, ␍, ␇, ␡); C1 controls,
 * every bidirectional control (U+061C, U+200E/200F, U+202A–202E, U+2066–2069), the line and
 * paragraph separators, interlinear annotation controls, lone surrogates and the other
 * default-ignorable (invisible) characters as `⟨U+XXXX⟩`. Joiners that build emoji and
 * scripts (ZWJ, ZWNJ, CGJ, variation selectors, tag characters) stay as they are where they
 * join something visible, and are marked where they do not. A text with nothing visible in it
 * (only zero-width characters, or only spaces) is marked whole, so it never looks empty.
 *
 * The one name rule follows from it: a name (display name, alias, group name, nick, file
 * name) is refused when it would not be shown exactly as it is, or shows nothing.
 */

/** A piece of text to show: plain characters, or one character shown by its marker. */
export type TextPiece = { text: string; code?: undefined } | { text: string; code: number };

export interface ShowOptions {
  /** Messages and topics: line feed and tab are text, not marked. */
  multiline?: boolean;
}

/** Always marked, wherever they stand. */
const ALWAYS = /^[\p{Cc}\p{Bidi_Control}\p{Cs}\u2028\u2029\ufff9-\ufffb\p{Default_Ignorable_Code_Point}]$/u;

/**
 * Default-ignorable characters that join visible ones, kept where they join something: ZWNJ,
 * ZWJ, CGJ and the Mongolian variation selectors join two characters (`between`); variation
 * selectors and tag characters modify the one before them.
 */
function joinerKind(code: number): 'between' | 'after' | undefined {
  if (code === 0x200c || code === 0x200d || code === 0x034f) return 'between';
  if ((code >= 0x180b && code <= 0x180d) || code === 0x180f) return 'between';
  if (code >= 0xfe00 && code <= 0xfe0f) return 'after';
  if ((code >= 0xe0020 && code <= 0xe007f) || (code >= 0xe0100 && code <= 0xe01ef)) return 'after';
  return undefined;
}
/** Anything at all that may be marked, or whitespace: texts without it take the fast path. */
const SUSPECT = /[\p{Cc}\p{Bidi_Control}\p{Cs}\u2028\u2029\ufff9-\ufffb\p{Default_Ignorable_Code_Point}]/u;

/** The visible stand-in for one code point. */
export function markerFor(code: number): string {
  if (code < 0x20) return String.fromCodePoint(0x2400 + code);
  if (code === 0x7f) return '\u2421';
  return `⟨U+${code.toString(16).toUpperCase().padStart(4, '0')}⟩`;
}

type Kind = 'mark' | 'joiner' | 'space' | 'visible' | 'text';

function kindOf(ch: string, multiline: boolean): Kind {
  if (multiline && (ch === '\n' || ch === '\t')) return 'text';
  if (joinerKind(ch.codePointAt(0)!) !== undefined) return 'joiner';
  if (ALWAYS.test(ch)) return 'mark';
  if (/^\s$/u.test(ch)) return 'space';
  return 'visible';
}

/**
 * `text` in pieces: runs of characters shown as they are, and single characters shown by
 * their marker (`code` set, `text` the marker). Joined, the pieces are what to print.
 */
export function textPieces(text: string, opts: ShowOptions = {}): TextPiece[] {
  if (text === '') return [];
  if (!SUSPECT.test(text) && /\S/u.test(text)) return [{ text }];
  const multiline = opts.multiline === true;
  const chars = [...text];
  const kinds = chars.map((ch) => kindOf(ch, multiline));
  const anyVisible = kinds.includes('visible');
  const pieces: TextPiece[] = [];
  let run = '';
  // Whether the last character kept is visible, or a joiner kept after a visible one.
  let joinable = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    let kind = kinds[i]!;
    if (kind === 'joiner') {
      const next = kinds[i + 1];
      const between = joinerKind(ch.codePointAt(0)!) === 'between';
      const joins: boolean = joinable && (!between || next === 'visible' || next === 'joiner');
      kind = joins ? 'text' : 'mark';
    }
    if (!anyVisible || kind === 'mark') {
      if (run !== '') pieces.push({ text: run });
      run = '';
      const code = ch.codePointAt(0)!;
      pieces.push({ text: markerFor(code), code });
      joinable = false;
      continue;
    }
    run += ch;
    joinable = kind === 'visible' || (kinds[i] === 'joiner' && joinable);
  }
  if (run !== '') pieces.push({ text: run });
  return pieces;
}

/** `text` as it may be printed: every character that would act or hide shown by its marker. */
export function showText(text: string, opts: ShowOptions = {}): string {
  return textPieces(text, opts)
    .map((p) => p.text)
    .join('');
}

/**
 * Why `name` is not a name, or undefined when it is one (the one name rule): text of
 * 1..`maxChars` code points that is shown exactly as it is (no control, bidirectional or
 * stray invisible character, no line break) and has something visible in it.
 */
export function nameFault(name: unknown, maxChars: number): string | undefined {
  if (typeof name !== 'string') return 'must be text';
  const n = [...name].length;
  if (n < 1 || n > maxChars) return `must be 1..${maxChars} characters`;
  if (!/\S/u.test(name)) return 'is blank';
  const pieces = textPieces(name);
  if (pieces.some((p) => p.code !== undefined)) {
    return /[\p{Cc}\p{Bidi_Control}]/u.test(name)
      ? 'contains control or bidirectional characters'
      : 'contains invisible characters';
  }
  return undefined;
}
