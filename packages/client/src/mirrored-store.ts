/**
 * A `Store` that keeps some collections in memory as well, written through: reads of those
 * collections never touch the backend, and each value is decoded once, when first asked for,
 * not on every pass. The account keeps its outbox this way, so a flush costs what is in flight,
 * not a decode of the whole outbox (docs/decisions/0012 "Delivery").
 *
 * The memory copy changes only after the backend's batch has resolved, so it never shows what
 * is not durable. The account is the only writer of its store while it is open (one process,
 * one account), which is what makes a copy in memory safe.
 */
import { InternalError, UsageError } from '@parus/core';
import { checkStoreName, type Store, type StoreEntry, type StoreOp } from './store.ts';

interface Slot {
  value: Uint8Array;
  decoded?: { as: unknown; value: unknown };
}

class Mirror {
  readonly slots = new Map<string, Slot>();
  private sorted: string[] | undefined = [];

  keys(): string[] {
    if (!this.sorted) this.sorted = [...this.slots.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.sorted;
  }

  put(key: string, value: Uint8Array): void {
    const known = this.slots.has(key);
    this.slots.set(key, { value });
    if (known || !this.sorted) return;
    // Keys mostly grow (outbox sequence numbers): append in order, else sort on next read.
    const last = this.sorted.at(-1);
    if (last === undefined || last < key) this.sorted.push(key);
    else this.sorted = undefined;
  }

  del(key: string): void {
    if (this.slots.delete(key)) this.sorted = undefined;
  }
}

export class MirroredStore implements Store {
  private readonly mirrors = new Map<string, Mirror>();
  private closed = false;

  constructor(
    private readonly inner: Store,
    collections: readonly string[],
  ) {
    for (const c of collections) this.mirrors.set(c, new Mirror());
  }

  /** Reads the mirrored collections from the backend (once, when the account opens). */
  async load(): Promise<void> {
    for (const [collection, mirror] of this.mirrors) {
      mirror.slots.clear();
      for (const { key, value } of await this.inner.list(collection)) mirror.put(key, value);
    }
  }

  async get(collection: string, key: string): Promise<Uint8Array | undefined> {
    const m = this.mirrors.get(collection);
    if (!m) return this.inner.get(collection, key);
    this.check();
    checkStoreName('key', key);
    return m.slots.get(key)?.value.slice();
  }

  async list(collection: string): Promise<StoreEntry[]> {
    const m = this.mirrors.get(collection);
    if (!m) return this.inner.list(collection);
    this.check();
    return m.keys().map((key) => ({ key, value: m.slots.get(key)!.value.slice() }));
  }

  async batch(ops: readonly StoreOp[]): Promise<void> {
    await this.inner.batch(ops);
    for (const op of ops) {
      const m = this.mirrors.get(op.collection);
      if (!m) continue;
      if (op.type === 'put') m.put(op.key, op.value.slice());
      else m.del(op.key);
    }
  }

  close(): Promise<void> {
    this.closed = true;
    return this.inner.close();
  }

  private check(): void {
    if (this.closed) throw new UsageError('store is closed');
  }

  has(collection: string, key: string): boolean {
    return this.mirror(collection).slots.has(key);
  }

  /**
   * One mirrored value, decoded with `decode` (the result is kept until the value changes;
   * callers must not modify it).
   */
  decoded<T>(collection: string, key: string, decode: (bytes: Uint8Array) => T): T | undefined {
    const slot = this.mirror(collection).slots.get(key);
    if (!slot) return undefined;
    if (slot.decoded?.as !== decode) slot.decoded = { as: decode, value: decode(slot.value) };
    return slot.decoded.value as T;
  }

  /** Every value of a mirrored collection in key order, decoded as `decoded` does. */
  entries<T>(collection: string, decode: (bytes: Uint8Array) => T): Array<{ key: string; value: T }> {
    return this.mirror(collection)
      .keys()
      .map((key) => ({ key, value: this.decoded(collection, key, decode)! }));
  }

  private mirror(collection: string): Mirror {
    const m = this.mirrors.get(collection);
    if (!m) throw new InternalError(`collection ${collection} is not mirrored`);
    return m;
  }
}
