/**
 * docs/BENCHMARKS.md is written by two commands: `npm run bench` (bench/run.ts) writes the
 * whole file, `npm run bench:web` (bench/web-load.ts) only the web section between the
 * markers below. Each keeps what the other wrote.
 */
export const WEB_START = '<!-- web:start -->';
export const WEB_END = '<!-- web:end -->';

/** The web section of a file, markers included, or undefined when it has none. */
export function webSection(text: string): string | undefined {
  const start = text.indexOf(WEB_START);
  const end = text.indexOf(WEB_END, start);
  if (start < 0 || end < 0) return undefined;
  return text.slice(start, end + WEB_END.length);
}

/** `text` with its web section replaced by `section` (appended when it has none). */
export function withWebSection(text: string, section: string | undefined): string {
  if (section === undefined) return text;
  const old = webSection(text);
  if (old !== undefined) return text.replace(old, () => section);
  return `${text.trimEnd()}\n\n${section}\n`;
}
