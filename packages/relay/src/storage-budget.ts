/**
 * The relay's storage budget (docs/decisions/0023): the bytes its queue database uses
 * (queues, 1:1 messages, fan-out bodies and copies, their indexes) plus its blob bytes,
 * against `maxStoredBytes`. When it is reached the relay takes no new queue and no new blob
 * (QuotaError) and /health says so; queues that exist keep taking and delivering messages
 * within their own quotas, so a stranger filling the disk cannot cut everyone else off.
 */
import { QuotaError } from '@parus/core';

export interface StorageUse {
  used: number;
  budget: number;
  full: boolean;
}

export class StorageBudget {
  constructor(
    private readonly maxBytes: number,
    /** Bytes in use now; read when asked (a few SQLite pragmas), not on every frame. */
    private readonly used: () => number,
  ) {}

  use(): StorageUse {
    const used = this.used();
    return { used, budget: this.maxBytes, full: used >= this.maxBytes };
  }

  /** QuotaError unless `extra` more bytes fit in the budget now. */
  check(what: string, extra = 0): void {
    const used = this.used();
    if (used >= this.maxBytes || used + extra > this.maxBytes)
      throw new QuotaError(`relay storage is full: it takes no new ${what}`);
  }
}
