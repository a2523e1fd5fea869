/**
 * Acks waiting to go out, per queue (core ack-batch.ts, docs/decisions/0016). The relay
 * connection handles deliveries one after another; while more are queued behind the one it
 * just processed, its ack waits here, and they leave together, one `ack` frame per queue
 * with up to MAX_ACK_BATCH ids, once the queue of deliveries is empty or a batch is full.
 * An ack still follows its message's durable processing; it only leaves a little later.
 */
import { MAX_ACK_BATCH, toHex } from '@parus/core';

export interface AckBatch {
  rid: Uint8Array;
  /** The X25519 secret of the queue's recipient key, which authenticates the ack. */
  rk: Uint8Array;
  mids: Uint8Array[];
}

export class PendingAcks {
  private batches = new Map<string, AckBatch>();

  /** Adds an ack; true when its queue's batch is full and should go now. */
  add(rid: Uint8Array, rk: Uint8Array, mid: Uint8Array): boolean {
    const key = toHex(rid);
    let batch = this.batches.get(key);
    if (!batch) this.batches.set(key, (batch = { rid, rk, mids: [] }));
    batch.mids.push(mid);
    return batch.mids.length >= MAX_ACK_BATCH;
  }

  get size(): number {
    return this.batches.size;
  }

  /** Every waiting batch, emptied; an id acked twice in a row is sent once. */
  take(): AckBatch[] {
    const out = [...this.batches.values()];
    this.batches = new Map();
    for (const batch of out) {
      const seen = new Set<string>();
      batch.mids = batch.mids.filter((mid) => {
        const key = toHex(mid);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    }
    return out;
  }
}
