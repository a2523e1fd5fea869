/**
 * Lookups over a group's links (member key ↔ the contact whose session reaches them) that
 * cost the same whatever the group's size: maps built once per links array. A group record's
 * links are never changed in place (every change makes a new array), so the array itself is
 * the cache key, and a stale map cannot be served.
 */
import { toHex } from '@parus/core';
import type { GroupLink } from './group-records.ts';

export interface LinkIndex {
  /** Member key (hex) → contact id. */
  byMember: Map<string, Uint8Array>;
  /** Contact id (hex) → member key. */
  byContact: Map<string, Uint8Array>;
}

const indexes = new WeakMap<readonly GroupLink[], LinkIndex>();

export function linkIndex(links: readonly GroupLink[]): LinkIndex {
  let index = indexes.get(links);
  if (!index) {
    index = { byMember: new Map(), byContact: new Map() };
    // The first link for a key wins, as `find` on the array would have it.
    for (const x of links) {
      const m = toHex(x.m);
      const c = toHex(x.c);
      if (!index.byMember.has(m)) index.byMember.set(m, x.c);
      if (!index.byContact.has(c)) index.byContact.set(c, x.m);
    }
    indexes.set(links, index);
  }
  return index;
}

/**
 * Remembers, per group, what a piece of work saw the last time it ran to the end, so that it
 * runs again only when one of those inputs changed (compared by identity) or a time has come.
 */
export class WorkMemo<K extends object> {
  private readonly seen = new WeakMap<K, { inputs: readonly unknown[]; until: number }>();

  /** Whether the work can be skipped: same inputs as last time, and nothing due before `until`. */
  fresh(key: K, inputs: readonly unknown[], now: number): boolean {
    const s = this.seen.get(key);
    return (
      s !== undefined &&
      now < s.until &&
      s.inputs.length === inputs.length &&
      s.inputs.every((x, i) => x === inputs[i])
    );
  }

  /** Records a complete run over `inputs`, with nothing to do again before `until`. */
  done(key: K, inputs: readonly unknown[], until: number): void {
    this.seen.set(key, { inputs, until });
  }

  forget(key: K): void {
    this.seen.delete(key);
  }
}
