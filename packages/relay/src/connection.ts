/**
 * One client connection: the handshake, the per-connection rules, and turning every
 * failure into an `err` frame (DESIGN.md principle 6: bad input gets a typed error and
 * changes nothing; the connection stays open).
 *
 * Order of checks for each WebSocket message, cheapest first:
 * rate limit → binary? → size → decode → hello first → request id grows → the queue
 * creation and stored-byte budgets of the connection and its source address → command
 * (whose first step is its authenticator).
 * A frame refused at any step executes nothing. Only a frame that decodes and carries a
 * new request id uses that id up, whatever the command's outcome.
 *
 * The frame rate is kept by reading, not by refusing (docs/decisions/0023): a frame that
 * finds the bucket empty waits, the socket is paused (TCP backpressure holds the sender back)
 * and the waiting frames are handled in order as tokens come in. A client that keeps to the
 * announced rate is never refused or closed, even when a starved relay reads many of its
 * frames at once; a flooder gets the rate and nothing more.
 *
 * Once the relay closes a connection it reads nothing more from it and cuts the socket
 * after a grace period; each cause is logged once per connection.
 */
import {
  BLOB_CHUNK_BYTES,
  TokenBucket,
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
  fitsOks,
  isBlobCommandType,
  isCardCommandType,
  sign,
  welcomeSigningBytes,
} from '@parus/core';
import type {
  BlobCommand,
  CardCommand,
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
import type { CardCommandHandler } from './card-commands.ts';
import { WebSocket } from 'ws';
import { deliverySlab } from './byte-slab.ts';
import { TurnFrames } from './turn-frames.ts';
import { CommandAuth } from './command-auth.ts';
import type { CommandContext } from './command-context.ts';
import type { CommandHandler } from './commands.ts';
import type { ServerKeys } from './server-keys.ts';
import type { SourceAddress } from './source-addresses.ts';
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
  /** Card records behind short invitations (card-commands.ts). */
  cards?: CardCommandHandler;
  /** The frame rate, announced in `welcome` so that clients pace themselves. */
  frameRate: { perSecond: number; burst: number };
  /** Blob chunk bytes, up and down (bput data, bget answers); over it, QUOTA (slow down). */
  blobBytes: TokenBucket;
  /** Queue creations (`new`) of this connection. */
  creations: TokenBucket;
  /** The source address's shared budgets (source-addresses.ts). */
  address: SourceAddress;
  /** Monotonic milliseconds (performance.now()), for the frame bucket. */
  clock: () => number;
  /** Time the peer has to answer the relay's close before its socket is cut. */
  closeGraceMs: number;
  counters: ConnectionCounters;
  maxBufferedBytes: number;
  helloTimeoutMs: number;
  /** Keys K the connection keeps for command authenticators (command-auth.ts). */
  maxAuthKeys: number;
  log: (line: string) => void;
  /**
   * The connection's TCP socket, the one its WebSocket writes to. The frames of one turn of
   * the event loop (a group commit's deliveries and answers) are framed by the connection
   * itself and leave in one write (turn-frames.ts); without it, ws sends each.
   */
  socket?: { write(chunk: Uint8Array): boolean };
}

/**
 * Frames laid out directly (`msg`, `ok`: one per delivered copy and per ack) go into the
 * relay's slab (byte-slab.ts) rather than each into an array of its own: encodeFrame
 * writes every byte.
 */
const slabBytes: FrameAllocator = (size) => deliverySlab.take(size);

/** Error messages are short and name the bad input only; the client reads 512 characters at most. */
const MAX_ERROR_TEXT = 200;

/** Frames of one turn past this many bytes are written at once rather than at the turn's end. */
const TURN_FLUSH_BYTES = 64 * 1024;

/** Distinct log lines one connection may write; a cause already logged is not logged again. */
const MAX_LOG_CAUSES = 16;

/** A frame read while the connection was over its rate, waiting for a token. */
interface HeldFrame {
  data: Uint8Array;
  isBinary: boolean;
}

export class RelayConnection implements Subscriber {
  /** Set by hello: the session nonce, this connection's X25519 key pair and its keys K. */
  private auth: CommandAuth | undefined;
  private lastId = -1;
  /** The relay closed (or is closing) this connection: nothing more is read or handled. */
  private shuttingDown = false;
  private helloTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly frames: TokenBucket;
  /** Frames read over the rate, in order from `heldHead`; the socket is paused while any wait. */
  private held: HeldFrame[] = [];
  private heldHead = 0;
  private drainTimer: NodeJS.Timeout | undefined;
  /** Log lines already written for this connection. */
  private logged: Set<string> | undefined;
  /** Set by the heartbeat, cleared by any pong or frame. */
  awaitingPong = false;
  /** The hello asked for `oks` frames: this turn's plain `ok`s go out as one. */
  private oksWanted = false;
  /** The frames of the current turn, until they leave in one write (flushConnection). */
  private turn: TurnFrames | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: RelayConnectionOptions,
  ) {
    this.frames = new TokenBucket(opts.frameRate.perSecond, opts.frameRate.burst, opts.clock);
    this.helloTimer = setTimeout(() => {
      if (!this.auth) this.closeWith(1008, 'hello timeout');
    }, opts.helloTimeoutMs);
    this.helloTimer.unref();
  }

  /** Writes `line` to the relay's log unless this connection already did. */
  logOnce(line: string): void {
    this.logged ??= new Set();
    if (this.logged.has(line) || this.logged.size >= MAX_LOG_CAUSES) return;
    this.logged.add(line);
    this.opts.log(line);
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
    if (this.shuttingDown) {
      // The peer ignores the close: read nothing more; the grace timer cuts the socket.
      this.ws.pause();
      return;
    }
    if (this.heldHead === this.held.length && this.frames.take()) return this.handleSafely(data, isBinary);
    this.hold(data, isBinary);
  }

  private handleSafely(data: Uint8Array, isBinary: boolean): void {
    try {
      this.handle(data, isBinary);
    } catch (error) {
      this.sendError(error);
    }
  }

  /** Over the rate: keep the frame for later and stop reading the socket until it is handled. */
  private hold(data: Uint8Array, isBinary: boolean): void {
    if (this.heldHead === this.held.length) {
      this.ws.pause();
      this.logOnce('a connection goes over the frame rate: reading it at that rate');
    }
    this.held.push({ data, isBinary });
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainTimer !== undefined) return;
    this.drainTimer = setTimeout(drainConnection, Math.max(1, Math.ceil(this.frames.msUntil())), this);
  }

  /** Handles the frames held over the rate that the bucket now allows (drainConnection). */
  drain(): void {
    this.drainTimer = undefined;
    while (!this.shuttingDown && this.heldHead < this.held.length && this.frames.take()) {
      const frame = this.held[this.heldHead]!;
      this.held[this.heldHead++] = undefined as unknown as HeldFrame;
      this.handleSafely(frame.data, frame.isBinary);
    }
    if (this.shuttingDown) return this.dropHeld();
    if (this.heldHead < this.held.length) return this.scheduleDrain();
    this.held = [];
    this.heldHead = 0;
    this.ws.resume();
  }

  /** Writes the turn's frames (flushConnection, and before the relay closes the connection). */
  flush(): void {
    const turn = this.turn;
    if (!turn) return;
    this.turn = undefined;
    if (this.ws.readyState !== WebSocket.OPEN || !this.opts.socket) return;
    this.opts.socket.write(turn.framed());
    this.checkBuffered();
  }

  private checkBuffered(): void {
    if (this.ws.bufferedAmount > this.opts.maxBufferedBytes) {
      // The peer does not read what it asked for; dropping it frees the memory.
      this.logOnce('dropping a connection that does not read its frames');
      this.turn = undefined;
      this.ws.terminate();
    }
  }

  private dropHeld(): void {
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    this.held = [];
    this.heldHead = 0;
  }

  /** Closes the connection from the relay's side: nothing more is handled, the socket is cut after the grace. */
  private closeWith(code: number, reason: string): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.dropHeld();
    // What was answered before goes out before the close frame.
    this.flush();
    this.ws.close(code, reason);
    this.graceTimer = setTimeout(() => this.ws.terminate(), this.opts.closeGraceMs);
    this.graceTimer.unref();
  }

  private handle(data: Uint8Array, isBinary: boolean): void {
    this.awaitingPong = false;
    if (this.shuttingDown) return;
    this.opts.counters.framesReceived += 1;
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
    const refusal = this.overBudget(frame);
    if (refusal) return this.sendError(refusal, id);
    const context = new Call(this.auth, data, this);
    let running: Promise<void>;
    try {
      if (isBlobCommandType(frame.t)) {
        const blob = frame as BlobCommand;
        const cost = blob.t === 'bput' ? blob.data.length : blob.t === 'bget' ? BLOB_CHUNK_BYTES : 0;
        if (cost > 0 && !this.opts.blobBytes.take(cost))
          return this.sendError(new QuotaError('blob byte rate exceeded; slow down'), id);
        running = this.opts.blobs.run(context, blob);
      } else if (isCardCommandType(frame.t)) {
        if (!this.opts.cards) throw new ProtocolError('this relay keeps no card records');
        running = this.opts.cards.run(context, frame as CardCommand);
      } else
        running = this.opts.commands.run(context, frame as Exclude<typeof frame, BlobCommand | CardCommand>);
    } catch (error) {
      return this.sendError(error, id);
    }
    running.catch((error: unknown) => this.sendError(error, id));
  }

  /** An answer to one of this connection's commands (Call.reply). */
  reply(frame: RelayFrame): void {
    this.send(frame);
  }

  /**
   * The queue creation and stored-byte budgets of this connection and its source address
   * (docs/decisions/0023): the QuotaError that refuses the frame, or nothing. A budget is
   * only spent when every one the frame needs has room.
   */
  private overBudget(frame: ClientFrame): QuotaError | undefined {
    const { address } = this.opts;
    let bytes = 0;
    switch (frame.t) {
      case 'cput':
      case 'new': {
        // A card record counts as a queue creation (decision 0045), and its bytes as stored ones.
        const { creations } = this.opts;
        if (creations.level() < 1 || address.creations.level() < 1)
          return new QuotaError('too many queues created; try again later');
        if (frame.t === 'cput' && !address.stored.take(frame.data.length))
          return new QuotaError('too many bytes stored from this address; slow down');
        creations.take();
        address.creations.take();
        return undefined;
      }
      case 'send':
      case 'fsend':
      case 'fwd':
        bytes = frame.body.length;
        break;
      case 'bput':
        bytes = frame.data.length;
        break;
      default:
        return undefined;
    }
    if (!address.stored.take(bytes))
      return new QuotaError('too many bytes stored from this address; slow down');
    return undefined;
  }

  /** The relay is closing: stop taking frames and say goodbye. */
  shutdown(): void {
    this.closeWith(1001, 'relay shutting down');
  }

  closed(): void {
    clearTimeout(this.helloTimer);
    clearTimeout(this.graceTimer);
    this.shuttingDown = true;
    this.turn = undefined;
    this.dropHeld();
    this.auth?.close();
  }

  private hello(frame: HelloFrame): void {
    if (this.auth) return this.sendError(new ProtocolError('hello was already sent on this connection'));
    if (frame.v !== RELAY_PROTOCOL_VERSION) {
      return this.sendError(new ProtocolError(`protocol version ${RELAY_PROTOCOL_VERSION} only`));
    }
    clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
    this.oksWanted = frame.oks === 1;
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
    if (!this.opts.socket) {
      this.ws.send(encodeFrame(frame, slabBytes));
      return this.checkBuffered();
    }
    let turn = this.turn;
    if (!turn) {
      // Written once the turn's promise continuations (every delivery of a commit) ran.
      turn = this.turn = new TurnFrames(slabBytes);
      process.nextTick(flushConnection, this);
    }
    if (this.oksWanted && frame.t === 'ok' && frame.pending === undefined && fitsOks(frame.id))
      turn.ok(frame.id);
    else turn.add(encodeFrame(frame, slabBytes));
    // A turn that answers a great deal leaves early, so that the bound per connection holds.
    if (turn.bytes > TURN_FLUSH_BYTES) this.flush();
  }

  private sendError(error: unknown, id?: number): void {
    const frame: ErrFrame = { t: 'err', code: 'INTERNAL', msg: 'internal error' };
    if (error instanceof ParusError) {
      frame.code = error.code;
      frame.msg = error.message.slice(0, MAX_ERROR_TEXT);
      if (error.code === 'STORAGE' || error.code === 'INTERNAL') this.logOnce(describe(error));
    } else {
      // A bug in the relay: the client learns only that; the log gets the name and message.
      this.logOnce(`internal error: ${describe(error)}`);
    }
    if (id !== undefined) frame.id = id;
    this.opts.counters.errorsSent += 1;
    this.send(frame);
  }
}

/**
 * A command on its way through the handlers (CommandContext). The connection's callbacks are
 * these prototype methods and the two functions below, not closures made for each connection
 * (docs/decisions/0042: an idle connection's memory).
 */
class Call implements CommandContext {
  constructor(
    readonly auth: CommandAuth,
    readonly received: Uint8Array,
    readonly subscriber: RelayConnection,
  ) {}

  isOpen(): boolean {
    return this.subscriber.isOpen();
  }

  reply(frame: RelayFrame): void {
    this.subscriber.reply(frame);
  }
}

function flushConnection(conn: RelayConnection): void {
  conn.flush();
}

function drainConnection(conn: RelayConnection): void {
  conn.drain();
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
