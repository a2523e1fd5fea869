/**
 * The frames one connection sends in one turn of the event loop, written as one buffer
 * (docs/decisions/0064). A group commit answers and delivers many frames to a connection at
 * once; ws's `send` makes a header, a write call and a stream entry for each. Here each frame
 * gets its WebSocket header (RFC 6455 §5.2: a server's frames are not masked, so the header is
 * 2, 4 or 10 bytes) and the turn's frames leave in one `socket.write`. ws keeps the handshake,
 * the reading, pings and close frames; it writes to the same socket, so order is kept as long
 * as the turn is written before the relay closes (RelayConnection.flush).
 *
 * Plain `ok`s of a connection that asked for them (hello `oks: 1`) are collected into one
 * `oks` frame (core ok-batch.ts) placed where the turn's first one was: an answer may go out
 * earlier than it would have, never later, so an `ok` still precedes the frames its command
 * caused. One collected id goes out as a plain `ok`.
 */
import { MAX_OK_BATCH, encodeFrame } from '@parus/core';
import type { FrameAllocator } from '@parus/core';

/** FIN and the binary opcode: the first byte of every frame the relay writes itself. */
const FIN_BINARY = 0x82;
/** The longest header a server frame needs (a 64-bit length). */
const MAX_HEADER_BYTES = 10;
const NO_FRAME = new Uint8Array(0);

const ascending = (a: number, b: number): number => a - b;

export class TurnFrames {
  private readonly frames: Uint8Array[] = [];
  private okIds: number[] | undefined;
  /** Where the collected `ok`s go in `frames`. */
  private okAt = -1;
  /** About what the turn will write: its frames and their headers at most. */
  bytes = 0;

  constructor(private readonly alloc: FrameAllocator) {}

  /** An encoded frame (its payload: the WebSocket header is added when written). */
  add(frame: Uint8Array): void {
    this.frames.push(frame);
    this.bytes += frame.length + MAX_HEADER_BYTES;
  }

  /** The plain `ok` of request `id` (below 2^32: core fitsOks). */
  ok(id: number): void {
    if (this.okIds === undefined) {
      this.okIds = [];
      this.okAt = this.frames.length;
      this.frames.push(NO_FRAME);
      this.bytes += 24 + MAX_HEADER_BYTES;
    }
    this.okIds.push(id);
    this.bytes += 4;
    if (this.okIds.length === MAX_OK_BATCH) this.closeOks();
  }

  private closeOks(): void {
    const ids = this.okIds;
    if (ids === undefined) return;
    this.okIds = undefined;
    // Answers come back in the order commands finish; the frame lists them ascending.
    let sorted = true;
    for (let i = 1; i < ids.length && sorted; i++) sorted = ids[i - 1]! < ids[i]!;
    if (!sorted) ids.sort(ascending);
    this.frames[this.okAt] =
      ids.length === 1
        ? encodeFrame({ t: 'ok', id: ids[0]! }, this.alloc)
        : encodeFrame({ t: 'oks', ids }, this.alloc);
  }

  /** The turn's frames, each with its header, in one array. */
  framed(): Uint8Array {
    this.closeOks();
    let size = 0;
    for (const frame of this.frames) size += headerBytes(frame.length) + frame.length;
    const out = this.alloc(size);
    let at = 0;
    for (const frame of this.frames) {
      const n = frame.length;
      out[at++] = FIN_BINARY;
      if (n < 126) out[at++] = n;
      else if (n < 0x10000) {
        out[at++] = 126;
        out[at++] = n >>> 8;
        out[at++] = n & 0xff;
      } else {
        // 64-bit length; frames are far below 2^32 (MAX_FRAME_BYTES).
        out[at++] = 127;
        out[at++] = 0;
        out[at++] = 0;
        out[at++] = 0;
        out[at++] = 0;
        out[at++] = n >>> 24;
        out[at++] = (n >>> 16) & 0xff;
        out[at++] = (n >>> 8) & 0xff;
        out[at++] = n & 0xff;
      }
      out.set(frame, at);
      at += n;
    }
    return out;
  }
}

function headerBytes(payload: number): number {
  return payload < 126 ? 2 : payload < 0x10000 ? 4 : 10;
}
