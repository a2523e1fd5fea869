/**
 * The generated sections of docs/BENCHMARKS.md: each benchmark that can run alone
 * (`npm run bench -- --only NAME`) owns the text between its two markers and replaces only
 * that, leaving the rest of the file as it was.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const BENCHMARKS_FILE = fileURLToPath(new URL('../docs/BENCHMARKS.md', import.meta.url));

export interface SectionMarkers {
  start: string;
  end: string;
  /** Where a section not in the file yet goes: before this text (else at the end). */
  before: string;
}

/** `markdown` with the section between `markers` replaced by `section` (or added). */
export function spliceSection(markdown: string, markers: SectionMarkers, section: string): string {
  const start = markdown.indexOf(markers.start);
  const end = markdown.indexOf(markers.end);
  if (start >= 0 && end > start)
    return markdown.slice(0, start) + section + markdown.slice(end + markers.end.length);
  const anchor = markdown.indexOf(markers.before);
  if (anchor >= 0) return `${markdown.slice(0, anchor)}${section}\n\n${markdown.slice(anchor)}`;
  return `${markdown.trimEnd()}\n\n${section}\n`;
}

/** Replaces one section of docs/BENCHMARKS.md in place. */
export async function writeSection(markers: SectionMarkers, section: string): Promise<void> {
  const markdown = await readFile(BENCHMARKS_FILE, 'utf8').catch(() => '# Benchmarks\n');
  await writeFile(BENCHMARKS_FILE, spliceSection(markdown, markers, section));
}
