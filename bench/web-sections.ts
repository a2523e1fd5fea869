/**
 * docs/BENCHMARKS.md is written by two commands: `npm run bench` (bench/run.ts) writes the
 * whole file, `npm run bench:web` (bench/web-load.ts) only the web section between the
 * markers below. Each keeps what the other wrote, and both keep the figures measured by hand
 * (between the `by hand` markers: runs of scripts outside `npm run bench`, each with its command).
 */
export const WEB_START = '<!-- web:start -->';
export const WEB_END = '<!-- web:end -->';
export const BY_HAND_START = '<!-- by hand:start -->';
export const BY_HAND_END = '<!-- by hand:end -->';

interface Markers {
  start: string;
  end: string;
}
const WEB: Markers = { start: WEB_START, end: WEB_END };
const BY_HAND: Markers = { start: BY_HAND_START, end: BY_HAND_END };

/** The section of `text` between `m`, markers included, or undefined when it has none. */
function markedSection(text: string, m: Markers): string | undefined {
  const start = text.indexOf(m.start);
  const end = text.indexOf(m.end, start);
  if (start < 0 || end < 0) return undefined;
  return text.slice(start, end + m.end.length);
}

/** `text` with its section between `m` replaced by `section` (appended when it has none). */
function withMarkedSection(text: string, m: Markers, section: string | undefined): string {
  if (section === undefined) return text;
  const old = markedSection(text, m);
  if (old !== undefined) return text.replace(old, () => section);
  return `${text.trimEnd()}\n\n${section}\n`;
}

/** The web section of a file, markers included, or undefined when it has none. */
export function webSection(text: string): string | undefined {
  return markedSection(text, WEB);
}

/** `text` with its web section replaced by `section` (appended when it has none). */
export function withWebSection(text: string, section: string | undefined): string {
  return withMarkedSection(text, WEB, section);
}

/** `generated` (a whole new file) with the web and by-hand sections `previous` had. */
export function keepingSections(generated: string, previous: string): string {
  return withMarkedSection(
    withMarkedSection(generated, WEB, markedSection(previous, WEB)),
    BY_HAND,
    markedSection(previous, BY_HAND),
  );
}
