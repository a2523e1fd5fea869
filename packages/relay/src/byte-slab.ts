/**
 * Short-lived byte arrays of the delivery path (a sealed copy, its `msg` frame: two per
 * copy, 100,000 copies a second), carved from 64 KiB slabs.
 *
 * Node's Buffer.allocUnsafe does the same from 8 KiB pools, and a fan-out used one up every
 * dozen copies; making a pool (an ArrayBuffer outside the JavaScript heap) was 8 % of the
 * relay's fan-out time (docs/BENCHMARKS.md "Group fan-out"). A slab lives as long as any
 * array carved from it, as a pool does: at most the frames a connection has not written
 * yet (bounded by the relay's maxBufferedBytes per connection) and the copies being sent.
 * The bytes are not zeroed: whoever takes an array writes every byte of it.
 */
const SLAB_BYTES = 64 * 1024;
/** Larger arrays are allocated on their own. */
const MAX_CARVED_BYTES = 4 * 1024;

export class ByteSlab {
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private used = 0;

  /** `size` bytes that the caller overwrites entirely. */
  take(size: number): Buffer {
    if (size > MAX_CARVED_BYTES) return Buffer.allocUnsafeSlow(size);
    if (this.used + size > SLAB_BYTES) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + size);
    // Each array starts on an 8-byte boundary, as Node's pool aligns them.
    this.used = (this.used + size + 7) & ~7;
    return out;
  }
}

/** The relay's slab: one event loop, one slab. */
export const deliverySlab = new ByteSlab();
