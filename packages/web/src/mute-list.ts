/**
 * Muted chats as older versions of this web app kept them, in the browser only: read once to
 * hand them over to the account's synced state (main-screen.tsx `useMutes`, decision 0039),
 * then cleared (`clear`). localStorage is not encrypted, so it holds salted SHA-256 digests of the
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

  /** Whether an older version left mutes in this browser. */
  static hasLegacy(): boolean {
    return (readStored()?.digests.length ?? 0) > 0;
  }

  /** Forgets the mutes kept in this browser (they live in the account now). */
  clear(): void {
    this.digests.clear();
    this.known.clear();
    try {
      localStorage.removeItem(MUTE_KEY);
    } catch {
      // storage blocked: nothing was kept
    }
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
