/**
 * The account store interface. Every backend (memory for tests, SQLite in Node, IndexedDB
 * in the browser) implements this small, async key-value API with named collections and
 * atomic batches, and runs the same compliance suite. Encryption at rest is a layer on
 * top (sealed-store.ts), so backends only ever see sealed bytes.
 */
import { UsageError } from '@parus/core';

export type StoreOp =
  | { type: 'put'; collection: string; key: string; value: Uint8Array }
  | { type: 'del'; collection: string; key: string };

export interface StoreEntry {
  key: string;
  value: Uint8Array;
}

export interface Store {
  get(collection: string, key: string): Promise<Uint8Array | undefined>;
  /** Every entry of a collection, sorted by key. */
  list(collection: string): Promise<StoreEntry[]>;
  /** Applies all operations or none, durably, before resolving. */
  batch(ops: readonly StoreOp[]): Promise<void>;
  close(): Promise<void>;
}

const NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

export function checkStoreName(what: 'collection' | 'key', name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) throw new UsageError(`invalid store ${what}`);
}

/** A store in memory, for tests and for ephemeral sessions. */
export class MemoryStore implements Store {
  private readonly data = new Map<string, Map<string, Uint8Array>>();
  private closed = false;

  private col(collection: string): Map<string, Uint8Array> {
    let c = this.data.get(collection);
    if (!c) {
      c = new Map();
      this.data.set(collection, c);
    }
    return c;
  }

  private check(): void {
    if (this.closed) throw new UsageError('store is closed');
  }

  async get(collection: string, key: string): Promise<Uint8Array | undefined> {
    this.check();
    checkStoreName('collection', collection);
    checkStoreName('key', key);
    const v = this.data.get(collection)?.get(key);
    return v ? v.slice() : undefined;
  }

  async list(collection: string): Promise<StoreEntry[]> {
    this.check();
    checkStoreName('collection', collection);
    const c = this.data.get(collection);
    if (!c) return [];
    return [...c.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => ({ key, value: value.slice() }));
  }

  async batch(ops: readonly StoreOp[]): Promise<void> {
    this.check();
    for (const op of ops) {
      checkStoreName('collection', op.collection);
      checkStoreName('key', op.key);
    }
    for (const op of ops) {
      if (op.type === 'put') this.col(op.collection).set(op.key, op.value.slice());
      else this.data.get(op.collection)?.delete(op.key);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
