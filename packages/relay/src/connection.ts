/**
 * One client connection: the handshake, the per-connection rules, and turning every
 * failure into an `err` frame (DESIGN.md principle 6: bad input gets a typed error and
 * changes nothing; the connection stays open).
 *
 * Order of checks for each WebSocket message, cheapest first:
 * rate limit → binary? → size → decode → hello first → request id grows → command
 * (whose first step is its authenticator).
 * A frame refused at any step executes nothing. Only a frame that decodes and carries a
 * new request id uses that id up, whatever the command's outcome.
 */
import {
  BLOB_CHUNK_BYTES,
  CHALLENGE_BYTES,
  DecodeError,
  MAX_FRAME_BYTES,
  ParusError,
  ProtocolError,
  QuotaError,
  RELAY_PROTOCOL_VERSION,
  ReplayError,
  decodeCbor,
  decodeClientFrame,
  encodeFrame,
  isBlobCommandType,
  sign,
  welcomeSigningBytes,
} from '@parus/core';
import type {
  BlobCommand,
  ClientFrame,
  EndFrame,
  ErrFrame,
  FrameAllocator,
  HelloFrame,
  MsgFrame,
  Random,
  RelayFrame,
} from '@parus/core';
import type { BlobCommandHandler } from './blob-commands.ts';
import { WebSocket } from 'ws';
import { deliverySlab } from './byte-slab.ts';
import { CommandAuth } from './command-auth.ts';
import type { CommandHandler } from './commands.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { ServerKeys } from './server-keys.ts';
import type { Subscriber } from './subscriptions.ts';

/** What the relay counts across connections (RelayStats). */
export interface ConnectionCounters {
  framesReceived: number;
  errorsSent: number;
}

export interface RelayConnectionOptions {
  keys: ServerKeys;
  rng: Random;
  commands: CommandHandler;
  blobs: BlobCommandHandler;
  limiter: RateLimiter;
  /** The frame rate `limiter` allows, announced in `welcome` so that clients pace themselves. */
  frameRate: { perSecond: number; burst: number };
  /** Blob chunk bytes, up and down (bput data, bget answers). */
  byteLimiter: RateLimiter;
  counters: ConnectionCounters;
  maxBufferedBytes: number;
  helloTimeoutMs: number;
  /** Keys K the connection keeps for command authenticators (command-auth.ts). */
  maxAuthKeys: number;
  log: (line: string) => void;
  /**
   * The connection's TCP socket. Frames sent during one turn of the event loop (a group
   * commit's deliveries and answers) are corked and leave in one write, not one each.
   */
  socket?: { cork(): void; uncork(): void };
}

/**
 * Frames laid out directly (`msg`, `ok`: one per delivered copy and per ack) go into the
 * relay's slab (byte-slab.ts) rather than each into an array of its own: encodeFrame
 * writes every byte.
 */
const slabBytes: FrameAllocator = (size) => deliverySlab.take(size);

/** Error messages are short and name the bad input only; the client reads 512 characters at most. */
const MAX_ERROR_TEXT = 200;

export class RelayConnection implements Subscriber {
  /** Set by hello: the session nonce, this connection's X25519 key pair and its keys K. */
  private auth: CommandAuth | undefined;
  private lastId = -1;
  private shuttingDown = false;
  private helloTimer: NodeJS.Timeout | undefined;
  /** Set by the heartbeat, cleared by any pong or frame. */
  awaitingPong = false;
  /** The socket is corked until the current turn's frames are all sent. */
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.opts.socket?.uncork();
  };

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: RelayConnectionOptions,
  ) {
    this.helloTimer = setTimeout(() => {
      if (!this.auth) this.ws.close(1008, 'hello timeout');
    }, opts.helloTimeoutMs);
    this.helloTimer.unref();
  }

  isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN && !this.shuttingDown;
  }

  /** A `msg` or `end` for a queue this connection subscribes to. */
  push(frame: MsgFrame | EndFrame): void {
    this.send(frame);
  }

  /** Handles one WebSocket message. Never throws: a bug becomes an INTERNAL error frame. */
  receive(data: Uint8Array, isBinary: boolean): void {
    try {
      this.handle(data, isBinary);
    } catch (error) {
      this.sendError(error);
    }
  }

  private handle(data: Uint8Array, isBinary: boolean): void {
    this.awaitingPong = false;
    if (this.shuttingDown) return;
    this.opts.counters.framesReceived += 1;
    const decision = this.opts.limiter.take();
    if (decision !== 'allow') {
      this.sendError(new QuotaError('rate limit exceeded'), isBinary ? peekId(data) : undefined);
      if (decision === 'disconnect') {
        this.opts.log('closing a connection that kept flooding');
        this.ws.close(1008, 'rate limit');
      }
      return;
    }
    if (!isBinary) return this.sendError(new DecodeError('text messages are not part of the protocol'));
    if (data.length > MAX_FRAME_BYTES) {
      return this.sendError(new QuotaError(`frame larger than ${MAX_FRAME_BYTES} bytes`));
    }
    let frame: ClientFrame;
    try {
      frame = decodeClientFrame(data);
    } catch (error) {
      return this.sendError(error, peekId(data));
    }
    if (frame.t === 'hello') return this.hello(frame);
    if (!this.auth) return this.sendError(new ProtocolError('send hello first'), frame.id);
    if (frame.id <= this.lastId)
      return this.sendError(new ReplayError('request id not above the previous one'), frame.id);
    this.lastId = frame.id;
    if (frame.t === 'ping') return this.send({ t: 'ok', id: frame.id });
    const id = frame.id;
    const context = {
      auth: this.auth,
      subscriber: this,
      isOpen: () => this.isOpen(),
      reply: this.reply,
    };
    let running: Promise<void>;
    try {
      if (isBlobCommandType(frame.t)) {
        const blob = frame as BlobCommand;
        const cost = blob.t === 'bput' ? blob.data.length : blob.t === 'bget' ? BLOB_CHUNK_BYTES : 0;
        // Refused, not counted as a strike: a client pacing an upload is not flooding.
        if (cost > 0 && this.opts.byteLimiter.take(cost) !== 'allow')
          return this.sendError(new QuotaError('blob byte rate exceeded; slow down'), id);
        running = this.opts.blobs.run(context, blob);
      } else running = this.opts.commands.run(context, frame as Exclude<typeof frame, BlobCommand>);
    } catch (error) {
      return this.sendError(error, id);
    }
    running.catch((error: unknown) => this.sendError(error, id));
  }

  private readonly reply = (frame: RelayFrame): void => this.send(frame);

  /** The relay is closing: stop taking frames and say goodbye. */
  shutdown(): void {
    this.shuttingDown = true;
    this.ws.close(1001, 'relay shutting down');
  }

  closed(): void {
    clearTimeout(this.helloTimer);
    this.shuttingDown = true;
    this.auth?.close();
  }

  private hello(frame: HelloFrame): void {
    if (this.auth) return this.sendError(new ProtocolError('hello was already sent on this connection'));
    if (frame.v !== RELAY_PROTOCOL_VERSION) {
      return this.sendError(new ProtocolError(`protocol version ${RELAY_PROTOCOL_VERSION} only`));
    }
    clearTimeout(this.helloTimer);
    const session = this.opts.rng.bytes(CHALLENGE_BYTES);
    // A fresh X25519 key for this connection alone: the keys K of its commands die with it.
    const auth = new CommandAuth(this.opts.rng, session, this.opts.maxAuthKeys);
    this.auth = auth;
    const dh = auth.publicKey;
    const sig = sign(this.opts.keys.sign.secretKey, welcomeSigningBytes(frame.challenge, session, dh));
    const key = this.opts.keys.sign.publicKey;
    const { perSecond, burst } = this.opts.frameRate;
    const rate = { rate: Math.floor(perSecond), burst: Math.floor(burst) };
    this.send({ t: 'welcome', v: RELAY_PROTOCOL_VERSION, key, session, dh, sig, ...rate });
  }

  private send(frame: RelayFrame): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (!this.corked && this.opts.socket) {
      // Uncorked once the turn's promise continuations (every delivery of a commit) ran.
      this.corked = true;
      this.opts.socket.cork();
      process.nextTick(this.uncork);
    }
    this.ws.send(encodeFrame(frame, slabBytes));
    if (this.ws.bufferedAmount > this.opts.maxBufferedBytes) {
      // The peer does not read what it asked for; dropping it frees the memory.
      this.opts.log('dropping a connection that does not read its frames');
      this.ws.terminate();
    }
  }

  private sendError(error: unknown, id?: number): void {
    const frame: ErrFrame = { t: 'err', code: 'INTERNAL', msg: 'internal error' };
    if (error instanceof ParusError) {
      frame.code = error.code;
      frame.msg = error.message.slice(0, MAX_ERROR_TEXT);
      if (error.code === 'STORAGE' || error.code === 'INTERNAL') this.opts.log(describe(error));
    } else {
      // A bug in the relay: the client learns only that; the log gets the name and message.
      this.opts.log(`internal error: ${describe(error)}`);
    }
    if (id !== undefined) frame.id = id;
    this.opts.counters.errorsSent += 1;
    this.send(frame);
  }
}

/** The request id of a frame that failed to decode as a command, if it has one. */
function peekId(data: Uint8Array): number | undefined {
  if (data.length > MAX_FRAME_BYTES) return undefined;
  try {
    const value = decodeCbor(data, { maxBytes: MAX_FRAME_BYTES, maxDepth: 4, maxItems: 16 });
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array)
      return;
    const id = value.id;
    return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Error name and message, with its cause's: never frame contents, which errors do not carry. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return 'non-error thrown';
  const cause = error.cause instanceof Error ? ` (cause: ${error.cause.name}: ${error.cause.message})` : '';
  return `${error.name}: ${error.message}${cause}`;
}
