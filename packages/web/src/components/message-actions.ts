/**
 * Small pieces of the message actions that both conversation views use (message-row.tsx
 * ChatMessage): copying a message's text, and the per-contact memory of a dismissed banner.
 */

/** Puts `text` on the clipboard; false when the browser refuses (no permission, no focus). */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
