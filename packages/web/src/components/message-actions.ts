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

const DISMISSED_KEY = 'parus-verify-later';

/** The contacts whose verify banner was put off (稍後再說), kept across reloads in this browser. */
export function verifyPutOff(alias: string): boolean {
  try {
    const list = JSON.parse(localStorage.getItem(DISMISSED_KEY) ?? '[]') as unknown;
    return Array.isArray(list) && list.includes(alias);
  } catch {
    return false;
  }
}

export function putOffVerify(alias: string): void {
  try {
    const list = JSON.parse(localStorage.getItem(DISMISSED_KEY) ?? '[]') as unknown;
    const next = Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
    if (!next.includes(alias)) next.push(alias);
    localStorage.setItem(DISMISSED_KEY, JSON.stringify(next.slice(-500)));
  } catch {
    // storage full or blocked: the banner comes back next time, nothing worse
  }
}
