/** Inserting text (an emoji) where the caret is, replacing the selection, as typing would. */
export function insertAtCaret(
  value: string,
  selection: { start: number; end: number },
  text: string,
): { value: string; caret: number } {
  const start = Math.max(0, Math.min(selection.start, value.length));
  const end = Math.max(start, Math.min(selection.end, value.length));
  return { value: value.slice(0, start) + text + value.slice(end), caret: start + text.length };
}
