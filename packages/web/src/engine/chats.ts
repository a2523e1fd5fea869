/** The chat list: one entry per contact, the most recent conversation first (LINE's order). */
import type { ContactInfo, MessageInfo } from '@parus/client';

export interface Chat {
  contact: ContactInfo;
  last: MessageInfo | undefined;
  unread: number;
}

/**
 * Each contact with its latest message and how many incoming messages are not read yet,
 * sorted by the latest message's time; a contact without messages counts from when it
 * was added. Ties keep the contacts' own order (Array.prototype.sort is stable).
 */
export function summarizeChats(
  contacts: readonly ContactInfo[],
  history: (alias: string) => readonly MessageInfo[],
): Chat[] {
  const chats = contacts.map((contact) => {
    let last: MessageInfo | undefined;
    let unread = 0;
    for (const m of history(contact.alias)) {
      if (!last || m.ts >= last.ts) last = m;
      if (m.dir === 'in' && m.status !== 'read') unread++;
    }
    return { contact, last, unread };
  });
  const at = (c: Chat): number => c.last?.ts ?? c.contact.created;
  return chats.sort((a, b) => at(b) - at(a));
}
