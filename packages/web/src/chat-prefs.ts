/**
 * What this browser keeps of the chat list (decision 0044): hidden chats, left out until a
 * message newer than their hiding comes. A chat is `c:<alias>` or `g:<group id>`. Kept in
 * localStorage. Pins (and mutes) live in the account's synced state now (Session.chatSettings,
 * decision 0039), so they follow the account to its other devices; the pins an older version
 * kept here are handed over once (`takeLegacyPinned`).
 */
const KEY = 'parus-chat-prefs';
const MAX = 500;

interface Stored {
  pinned: string[];
  hidden: Record<string, number>;
}

function read(): Stored {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? '{}') as Partial<Stored>;
    const pinned = Array.isArray(v.pinned) ? v.pinned.filter((x): x is string => typeof x === 'string') : [];
    const hidden: Record<string, number> = {};
    if (v.hidden && typeof v.hidden === 'object')
      for (const [k, t] of Object.entries(v.hidden)) if (typeof t === 'number') hidden[k] = t;
    return { pinned, hidden };
  } catch {
    return { pinned: [], hidden: {} };
  }
}

export class ChatPrefs {
  private data = read();

  /** The pins this browser kept before they moved into the account; forgotten here. */
  takeLegacyPinned(): string[] {
    const pinned = this.data.pinned;
    if (pinned.length === 0) return [];
    this.data.pinned = [];
    this.save();
    return pinned;
  }

  /** Hidden, and no message came after it was hidden (`last`: the newest message's time). */
  isHidden(chat: string, last: number | undefined): boolean {
    const at = this.data.hidden[chat];
    return at !== undefined && (last === undefined || last <= at);
  }

  hide(chat: string, at: number): void {
    this.data.hidden[chat] = at;
    this.save();
  }

  private save(): void {
    this.data.pinned = this.data.pinned.slice(0, MAX);
    const hidden = Object.entries(this.data.hidden).sort((a, b) => b[1] - a[1]);
    this.data.hidden = Object.fromEntries(hidden.slice(0, MAX));
    try {
      localStorage.setItem(KEY, JSON.stringify(this.data));
    } catch {
      // storage blocked: the choice lasts until the page closes
    }
  }
}
