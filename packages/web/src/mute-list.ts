/**
 * Muted chats, kept by this web app (not by the engine, and not synced to the account's
 * other devices). localStorage is not encrypted, so it holds salted SHA-256 digests of the
 * muted aliases rather than the aliases (a per-browser random salt; someone who can read the
 * browser's storage can still test names they guess). Where SubtleCrypto is missing (a page
 * served over plain http to another machine) mutes last for the page's life only.
 */
const MUTE_KEY = 'parus.muted';

interface Stored {
  salt: string;
  digests: string[];
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

function readStored(): Stored | undefined {
  try {
    const raw = localStorage.getItem(MUTE_KEY);
    if (!raw) return undefined;
    const v = JSON.parse(raw) as unknown;
    if (
      typeof v === 'object' &&
      v !== null &&
      typeof (v as Stored).salt === 'string' &&
      Array.isArray((v as Stored).digests) &&
      (v as Stored).digests.every((d) => typeof d === 'string')
    )
      return v as Stored;
  } catch {
    // unreadable or blocked: start empty
  }
  return undefined;
}

export class MuteList {
  private readonly known = new Map<string, boolean>();

  private constructor(
    private readonly salt: string,
    private readonly digests: Set<string>,
  ) {}

  static load(): MuteList {
    const stored = readStored();
    if (stored) return new MuteList(stored.salt, new Set(stored.digests));
    const salt = hex(crypto.getRandomValues(new Uint8Array(16)).buffer);
    return new MuteList(salt, new Set());
  }

  private async digest(alias: string): Promise<string | undefined> {
    const subtle = globalThis.crypto?.subtle as SubtleCrypto | undefined;
    if (!subtle) return undefined;
    return hex(await subtle.digest('SHA-256', new TextEncoder().encode(`${this.salt}\n${alias}`)));
  }

  /** Looks the aliases up (once each); true when one of them was not known before. */
  async resolve(aliases: readonly string[]): Promise<boolean> {
    let changed = false;
    for (const alias of aliases) {
      if (this.known.has(alias)) continue;
      const d = await this.digest(alias);
      if (this.known.has(alias)) continue; // set meanwhile by setMuted
      this.known.set(alias, d !== undefined && this.digests.has(d));
      changed = true;
    }
    return changed;
  }

  /** Whether the alias has been looked up (`isMuted` is only a guess before). */
  isKnown(alias: string): boolean {
    return this.known.has(alias);
  }

  isMuted(alias: string): boolean {
    return this.known.get(alias) ?? false;
  }

  /** Whether the chat is muted, once looked up. */
  async mutedSoon(alias: string): Promise<boolean> {
    await this.resolve([alias]);
    return this.isMuted(alias);
  }

  async setMuted(alias: string, muted: boolean): Promise<void> {
    this.known.set(alias, muted);
    const d = await this.digest(alias);
    if (d === undefined) return;
    if (muted) this.digests.add(d);
    else this.digests.delete(d);
    try {
      localStorage.setItem(MUTE_KEY, JSON.stringify({ salt: this.salt, digests: [...this.digests] }));
    } catch {
      // storage blocked: the choice lasts for this page only
    }
  }
}
