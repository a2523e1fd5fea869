/**
 * What the connections of one source address may spend together (docs/decisions/0023):
 * how many are open, the queues they create and the bytes they make the relay store. An
 * IPv6 address counts by its /64, which one host or home usually gets whole; an IPv4 address
 * (also written as IPv4-mapped IPv6) by itself.
 *
 * An entry stays after its last connection closes until its buckets are full again, so that
 * reconnecting does not refill them; sweep() drops the others.
 */
import { TokenBucket } from '@parus/core';
import type { RelayLimits } from './relay-limits.ts';

export interface SourceAddress {
  readonly key: string;
  connections: number;
  /** Queue creations (`new`) of all its connections. */
  readonly creations: TokenBucket;
  /** Bytes stored for its connections: message bodies, fan-out bodies, blob chunks. */
  readonly stored: TokenBucket;
}

type AddressLimits = Pick<
  RelayLimits,
  | 'maxConnectionsPerAddress'
  | 'addressQueueCreationBurst'
  | 'addressQueueCreationsPerMinute'
  | 'addressStoredByteBurst'
  | 'addressStoredBytesPerMinute'
>;

export class SourceAddresses {
  private readonly byKey = new Map<string, SourceAddress>();

  constructor(
    private readonly limits: AddressLimits,
    /** Monotonic milliseconds (performance.now()). */
    private readonly clock: () => number,
  ) {}

  /** Addresses tracked (open connections, or buckets not yet full again). */
  get size(): number {
    return this.byKey.size;
  }

  /** Counts one more connection from `remote`; undefined when the address has its most already. */
  admit(remote: string | undefined): SourceAddress | undefined {
    const key = addressKey(remote);
    let entry = this.byKey.get(key);
    if (!entry) {
      const { limits, clock } = this;
      entry = {
        key,
        connections: 0,
        creations: new TokenBucket(
          limits.addressQueueCreationsPerMinute / 60,
          limits.addressQueueCreationBurst,
          clock,
        ),
        stored: new TokenBucket(
          limits.addressStoredBytesPerMinute / 60,
          limits.addressStoredByteBurst,
          clock,
        ),
      };
      this.byKey.set(key, entry);
    }
    if (entry.connections >= this.limits.maxConnectionsPerAddress) return undefined;
    entry.connections += 1;
    return entry;
  }

  /** One connection of the address closed. */
  release(entry: SourceAddress): void {
    entry.connections = Math.max(0, entry.connections - 1);
  }

  /** Forgets the addresses with no connection whose buckets are full again. */
  sweep(): void {
    for (const [key, entry] of this.byKey) {
      if (
        entry.connections === 0 &&
        entry.creations.level() >= entry.creations.burst &&
        entry.stored.level() >= entry.stored.burst
      )
        this.byKey.delete(key);
    }
  }
}

/** The key a source address counts under: IPv4 as is, IPv6 by its first 64 bits. */
export function addressKey(remote: string | undefined): string {
  if (!remote) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(remote);
  if (mapped) return mapped[1]!;
  if (!remote.includes(':')) return remote;
  const address = remote.split('%')[0]!.toLowerCase();
  const [head = '', tail] = address.split('::');
  const width = (part: string): number => (part.includes('.') ? 2 : 1);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const used = [...headGroups, ...tailGroups].reduce((n, g) => n + width(g), 0);
  const groups = [
    ...headGroups,
    ...(tail === undefined ? [] : Array.from({ length: Math.max(0, 8 - used) }, () => '0')),
    ...tailGroups,
  ];
  const prefix = groups.slice(0, 4).map((g) => (g.includes('.') ? g : (parseInt(g, 16) || 0).toString(16)));
  return `${prefix.join(':')}::/64`;
}
