/**
 * The relay process: one HTTP server that answers `GET /health`, upgrades `/ws` to the
 * relay protocol, and says 404 to everything else. It wires the keys, the store, the
 * subscriptions and the connections together, runs the periodic purge and heartbeat, and
 * shuts down without losing an acknowledged write.
 *
 * It prints nothing: every line goes through `log`, and no line carries a key or a body.
 */
import { STATUS_CODES, createServer } from 'node:http';
import { hostname } from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  MAX_FRAME_BYTES,
  RELAY_PROTOCOL_VERSION,
  TokenBucket,
  TransportError,
  UsageError,
  initCrypto,
  toBase64Url,
  toHex,
  wipe,
} from '@parus/core';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import { BlobCommandHandler } from './blob-commands.ts';
import { LocalBus, checkBusUrl } from './bus/bus.ts';
import type { RelayBus } from './bus/bus.ts';
import { ClusterDelivery } from './bus/cluster.ts';
import type { BlobStore } from './blob-store.ts';
import { SqliteBlobStore } from './stores/sqlite/blob-store.ts';
import { CardCommandHandler } from './card-commands.ts';
import type { CardRecords } from './card-records.ts';
import { CardStore } from './stores/sqlite/card-store.ts';
import { CommandHandler } from './commands.ts';
import { RelayConnection } from './connection.ts';
import { FanoutHandler } from './fanout.ts';
import type { ConnectionCounters } from './connection.ts';
import { nodeRandom, pooledRandom } from './node-random.ts';
import { resolveLimits } from './relay-limits.ts';
import type { RelayLimits } from './relay-limits.ts';
import { loadOrCreateServerKeys, relayAddressFor } from './server-keys.ts';
import type { ServerKeys } from './server-keys.ts';
import { SourceAddresses } from './source-addresses.ts';
import type { SourceAddress } from './source-addresses.ts';
import { PostgresBackend, openSqliteStores } from './stores/open-stores.ts';
import type { RelayStores } from './stores/open-stores.ts';
import { readKeySecret } from './stores/postgres/postgres-server-keys.ts';
import { StorageBudget } from './storage-budget.ts';
import { DELIVERY_NONCE_BYTES, sealDeliveryNative } from './delivery-seal.ts';
import { StaticSite } from './static-site.ts';
import { Subscriptions } from './subscriptions.ts';
import { makePrivateFolder } from './private-files.ts';
import { Mesh } from './mesh/mesh.ts';
import { MESH_DATABASE_FILE } from './mesh/forward-store.ts';
import { serveStatus } from './mesh/status-http.ts';
import { checkTurnConfig, type TurnConfig } from './turn.ts';
import { MAX_LINK_FRAME_BYTES } from '@parus/core';

/** The relay software's version, reported by /health. */
export const RELAY_VERSION = '0.1.0';

export const QUEUE_DATABASE_FILE = 'relay.sqlite';

/**
 * ws reads a message whole before it can be refused. Up to this size the relay reads an
 * oversized frame and answers it with a QUOTA error, keeping the connection; beyond it ws
 * closes the connection (1009), as nothing bounds the memory otherwise.
 */
export const HARD_FRAME_BYTES = 2 * MAX_FRAME_BYTES;

/** How long close() waits for clients to answer the close handshake before cutting them. */
const CLOSE_GRACE_MS = 1_000;

/** A refused upgrade is logged at most this often (with how many there were), not each. */
const REFUSAL_LOG_MS = 60_000;

export interface RelayOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Host name put into the relay address, when clients reach it under another name than `host`. */
  publicHost?: string;
  /** Folder for the relay key and the queue database; created if missing. */
  dataDir: string;
  limits?: Partial<RelayLimits>;
  /** Wall clock, ms since the epoch: message timestamps and expiry. Default Date.now. */
  now?: () => number;
  log?: (line: string) => void;
  /** Aborting closes the relay, as close() does. */
  signal?: AbortSignal;
  /** A folder of static files to serve at `/` (the built web client), with a strict CSP. */
  webRoot?: string;
  /**
   * The profile for a board with 512 MB (`parus relay --small`): SMALL_RELAY_LIMITS under
   * `limits`, a smaller SQLite page cache and a smaller cache of compressed web files.
   */
  small?: boolean;
  /** Relays to link to (`parus://<fingerprint>@host:port`), joining their cloud (mesh/mesh.ts). */
  join?: readonly string[];
  /** The operator's note in this relay's descriptor. */
  note?: string;
  /** A TURN server for calls, whose credentials the relay hands to its users (turn.ts, decision 0046). */
  turn?: TurnConfig;
  /**
   * `postgres://USER@HOST:PORT/DB`: queues, messages and fan-out lists in PostgreSQL, shared
   * with other relay processes (decision 0047); without it, SQLite in `dataDir`.
   */
  store?: string;
  /**
   * With `store` (decision 0048): where blobs go, `'postgres'` (bytea chunks, the default with
   * `store`) or a folder every process shares (e.g. an NFS mount) for the chunks, the metadata
   * in PostgreSQL either way. Without `store`, blobs stay in `dataDir`; a `blobs` then is a UsageError.
   */
  blobs?: string;
  /** With `store`: the file of the 32-byte secret the relay key is sealed under in the store. */
  keySecret?: string;
  /**
   * The bus of several processes sharing one store (`redis://HOST:PORT`, bus/, decision
   * 0049). Without it the relay is one process (LocalBus); with it and no shared store, the
   * relay refuses to start (UsageError).
   */
  bus?: string;
  /** This process's name on /status.json (default host name and pid). */
  processName?: string;
}

/** Whether `store` names a store that several processes share. */
export function isSharedStore(store: string | undefined): boolean {
  return store !== undefined && /^postgres(ql)?:\/\//.test(store);
}

function readStoreSecret(opts: RelayOptions): Uint8Array {
  if (opts.keySecret === undefined) {
    throw new UsageError('a PostgreSQL store needs a key secret file (--key-secret FILE)');
  }
  return readKeySecret(opts.keySecret);
}

/** SQLite page caches of the small profile (SQLite's default is 2,000 KiB per database). */
const SMALL_QUEUE_CACHE_KIB = 512;
const SMALL_BLOB_CACHE_KIB = 128;
/** Compressed web files the small profile keeps (the default keeps 32 MiB). */
const SMALL_SITE_CACHE_BYTES = 4 * 1024 * 1024;

export interface RelayStats {
  uptimeMs: number;
  connections: number;
  subscriptions: number;
  queues: number;
  /** Messages stored and not yet acked, purged or deleted with their queue. */
  messages: number;
  framesReceived: number;
  errorsSent: number;
  messagesStored: number;
  messagesDelivered: number;
  messagesExpired: number;
  /**
   * 1:1 messages acked (or deleted with their queue) while held for their acks, never
   * written; and those written once their wait was over (limits.ackWaitMs).
   */
  messagesAckedUnwritten: number;
  messagesWrittenLate: number;
  /** Blobs stored, finished or still uploading, and their bytes on disk. */
  blobs: number;
  blobBytes: number;
  blobsExpired: number;
  /** Bytes counted against the storage budget (limits.maxStoredBytes), and whether it is reached. */
  storedBytes: number;
  storageFull: boolean;
  /** Upgrades refused: the relay's or one source address's connection limit. */
  connectionsRefused: number;
}

export interface Relay {
  /** `parus://<fingerprint>@host:port` */
  address: string;
  port: number;
  host: string;
  close(): Promise<void>;
  stats(): RelayStats;
}

/** `blobs` only with a PostgreSQL `store`: `'postgres'` or a folder's path. */
function checkBlobsOption(opts: RelayOptions): void {
  if (opts.blobs === undefined) return;
  if (opts.store === undefined)
    throw new UsageError(
      '--blobs goes with --store postgres://… (without it, blobs stay in the data folder)',
    );
  if (opts.blobs === '')
    throw new UsageError('--blobs takes postgres or a folder shared by every relay process');
}

export async function startRelay(opts: RelayOptions): Promise<Relay> {
  opts.signal?.throwIfAborted();
  if (opts.bus !== undefined) {
    checkBusUrl(opts.bus);
    if (!isSharedStore(opts.store))
      throw new UsageError('--bus needs a store that the processes share (--store postgres://…)');
  }
  await initCrypto();
  const limits = resolveLimits(opts.limits, opts.small === true);
  const log = opts.log ?? (() => {});
  const clock = opts.now ?? Date.now;
  const now = (): number => Math.floor(clock());
  const rng = nodeRandom;
  const wireRng = pooledRandom();
  const host = opts.host ?? '127.0.0.1';
  const started = performance.now();
  const processId = toHex(rng.bytes(8));
  const processName = opts.processName ?? `${hostname()}:${process.pid}`;

  checkBlobsOption(opts);
  // A PostgreSQL store is reached (and its secret read) before anything is created: a wrong
  // URL or secret fails here with a typed error (decision 0047).
  const secret = opts.store === undefined ? undefined : readStoreSecret(opts);
  const pg = opts.store === undefined ? undefined : await PostgresBackend.connect(opts.store);
  let keys: ServerKeys;
  let stores: RelayStores;
  try {
    // The store's key is opened before the data folder is made: a wrong secret creates nothing.
    const storeKeys = pg ? await pg.keys(secret!, rng, log) : undefined;
    makePrivateFolder(opts.dataDir);
    keys = storeKeys ?? loadOrCreateServerKeys({ dataDir: opts.dataDir, rng, log });
    const storeOptions = {
      maxLists: limits.maxFanoutLists,
      maxEntries: limits.maxFanoutEntries,
      maxQueueMessages: limits.maxQueueMessages,
      maxQueueBytes: limits.maxQueueBytes,
      sealShared: (key: Uint8Array, mid: Uint8Array, plaintext: Uint8Array) =>
        sealDeliveryNative(key, wireRng.bytes(DELIVERY_NONCE_BYTES), mid, plaintext),
    };
    stores = pg
      ? await pg.stores(storeOptions)
      : openSqliteStores({
          ...storeOptions,
          path: join(opts.dataDir, QUEUE_DATABASE_FILE),
          ackWaitMs: limits.ackWaitMs,
          maxHeldBytes: limits.maxHeldBytes,
          ...(opts.small ? { cacheKiB: SMALL_QUEUE_CACHE_KIB } : {}),
        });
  } catch (error) {
    await pg?.close();
    throw error;
  } finally {
    if (secret) wipe(secret);
  }
  const store = stores.queues;
  const lists = stores.lists;
  let blobStore: BlobStore;
  try {
    const blobLimits = {
      maxBlobBytes: limits.maxBlobBytes,
      maxTotalBytes: limits.maxBlobTotalBytes,
      uploadTtlMs: limits.blobUploadTtlMs,
      blobTtlMs: limits.blobTtlMs,
    };
    blobStore = pg
      ? await pg.blobs({
          ...blobLimits,
          ...(opts.blobs !== undefined && opts.blobs !== 'postgres' ? { folder: opts.blobs } : {}),
        })
      : new SqliteBlobStore({
          ...blobLimits,
          dataDir: opts.dataDir,
          ...(opts.small ? { cacheKiB: SMALL_BLOB_CACHE_KIB } : {}),
        });
  } catch (error) {
    await stores.close();
    throw error;
  }
  let cardStore: CardRecords;
  try {
    cardStore = pg
      ? await pg.cards(limits.maxCardRecords)
      : new CardStore(opts.dataDir, limits.maxCardRecords);
  } catch (error) {
    await blobStore.close();
    await stores.close();
    throw error;
  }
  const storage = new StorageBudget(
    limits.maxStoredBytes,
    () => store.storedBytes() + blobStore.storedBytes + cardStore.storedBytes,
  );
  const blobs = new BlobCommandHandler({ store: blobStore, rng, now, storage });
  const cards = new CardCommandHandler({
    store: cardStore,
    rng,
    now,
    maxTtlMs: limits.maxCardRecordTtlMs,
    storage,
  });
  const counters: ConnectionCounters & {
    messagesStored: number;
    messagesExpired: number;
    blobsExpired: number;
  } = {
    framesReceived: 0,
    errorsSent: 0,
    messagesStored: 0,
    messagesExpired: 0,
    blobsExpired: 0,
  };
  const subscriptions = new Subscriptions({
    store,
    window: limits.deliveryWindow,
    now,
    onError: (error) => {
      if (!closing) log(`delivery failed: ${errorName(error)}`);
    },
  });
  // Redis's client is loaded only by a relay that has a bus (a relay of one process keeps its footprint).
  const bus: RelayBus =
    opts.bus === undefined
      ? new LocalBus()
      : new (await import('./bus/redis-bus.ts')).RedisBus({ url: opts.bus, rng, log });
  // Only a shared bus has anything to tell: a relay of one process has no cluster part.
  const cluster = bus.shared ? new ClusterDelivery({ bus, store, subscriptions }) : undefined;
  const commands: CommandHandler = new CommandHandler({
    // The mesh part (made below: it stores through these commands) takes `fwd` and `rkey`.
    mesh: { run: (ctx, frame) => mesh.run(ctx, frame) },
    ...(opts.turn ? { turn: checkTurnConfig(opts.turn) } : {}),
    store,
    subscriptions,
    rng,
    wireRng,
    now,
    messageTtlMs: limits.messageTtlMs,
    maxSubscriptionsPerConnection: limits.maxSubscriptionsPerConnection,
    storage,
    ...(cluster ? { cluster } : {}),
    onStored: () => {
      counters.messagesStored += 1;
    },
    fanout: new FanoutHandler({
      queues: store,
      lists,
      subscriptions,
      rng,
      now,
      clock: () => performance.now(),
      messageTtlMs: limits.messageTtlMs,
      maxListsPerConnection: limits.maxFanoutListsPerConnection,
      maxEntries: limits.maxFanoutEntries,
      copiesPerSecond: limits.fanoutCopiesPerSecond,
      onStored: (copies) => {
        counters.messagesStored += copies;
      },
      ...(cluster ? { cluster } : {}),
    }),
  });
  const connections = new Map<WebSocket, RelayConnection>();
  let closing: Promise<void> | undefined;
  const monotonic = (): number => performance.now();
  const addresses = new SourceAddresses(limits, monotonic);
  let connectionsRefused = 0;
  let refusalsUnlogged = 0;
  let lastRefusalLog = -Infinity;
  const refuseConnection = (socket: Duplex, status: number, why: string): void => {
    connectionsRefused += 1;
    refusalsUnlogged += 1;
    if (monotonic() - lastRefusalLog >= REFUSAL_LOG_MS) {
      log(`connection refused: ${why} (${refusalsUnlogged} refused since the last such line)`);
      lastRefusalLog = monotonic();
      refusalsUnlogged = 0;
    }
    refuseUpgrade(socket, status);
  };

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: HARD_FRAME_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
  });

  const onConnection = (ws: WebSocket, socket: Duplex, source: SourceAddress): void => {
    if (closing) {
      // The upgrade finished after close() began: close() no longer sees this socket.
      ws.close(1001, 'relay shutting down');
      return;
    }
    const conn = new RelayConnection(ws, {
      keys,
      rng,
      commands,
      blobs,
      cards,
      frameRate: { perSecond: limits.framesPerSecond, burst: limits.frameBurst },
      blobBytes: new TokenBucket(limits.blobBytesPerSecond, limits.blobByteBurst, monotonic),
      creations: new TokenBucket(limits.queueCreationsPerMinute / 60, limits.queueCreationBurst, monotonic),
      address: source,
      clock: monotonic,
      closeGraceMs: limits.closeGraceMs,
      counters,
      maxBufferedBytes: limits.maxBufferedBytes,
      helloTimeoutMs: limits.helloTimeoutMs,
      // A recipient key per subscribed queue and a sender key per queue sent to, and some.
      maxAuthKeys: 2 * limits.maxSubscriptionsPerConnection + 16,
      log,
      socket,
    });
    connections.set(ws, conn);
    ws.on('message', (data: RawData, isBinary: boolean) => conn.receive(asBytes(data), isBinary));
    ws.on('pong', () => {
      conn.awaitingPong = false;
    });
    ws.on('error', (error) => conn.logOnce(`connection error: ${errorName(error)}`));
    ws.on('close', () => {
      connections.delete(ws);
      conn.closed();
      subscriptions.dropAll(conn);
    });
  };

  const site = opts.webRoot
    ? new StaticSite(opts.webRoot, opts.small ? SMALL_SITE_CACHE_BYTES : undefined)
    : undefined;
  let address = '';
  const mesh: Mesh = new Mesh({
    keys,
    rng,
    address: () => address,
    version: RELAY_VERSION,
    capacity: limits.maxConnections,
    ...(opts.note ? { note: opts.note } : {}),
    join: opts.join ?? [],
    forwardsPath: join(opts.dataDir, MESH_DATABASE_FILE),
    maxForwards: limits.maxForwardsHeld,
    queues: store,
    commands,
    now,
    messageTtlMs: limits.messageTtlMs,
    handshakeTimeoutMs: limits.helloTimeoutMs,
    log,
  });
  const meshWss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_LINK_FRAME_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const server = createServer((req, res) => {
    if (
      serveStatus(req, res, () => ({
        relay: { fingerprint: mesh.self, address, version: RELAY_VERSION, protocol: RELAY_PROTOCOL_VERSION },
        uptime: Math.floor((performance.now() - started) / 1000),
        users: connections.size,
        queues: store.counts().queues,
        store: stores.kind,
        blobs: blobStore.kind,
        turn: opts.turn !== undefined,
        process: { id: processId, name: processName },
        bus: bus.status(),
        ...mesh.status(),
      }))
    )
      return;
    handleHttp(
      req,
      res,
      site,
      () => address,
      () => ({
        ok: true,
        version: RELAY_VERSION,
        protocol: RELAY_PROTOCOL_VERSION,
        queues: store.counts().queues,
        uptime: Math.floor((performance.now() - started) / 1000),
        ...healthStorage(storage.use()),
      }),
    );
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (closing) return refuseUpgrade(socket, 503);
    if (pathOf(req) === '/mesh') return meshWss.handleUpgrade(req, socket, head, (ws) => mesh.accept(ws));
    if (pathOf(req) !== '/ws') return refuseUpgrade(socket, 404);
    if (connections.size >= limits.maxConnections) {
      return refuseConnection(socket, 503, 'connection limit reached');
    }
    if (addresses.size > 4 * limits.maxConnections) addresses.sweep();
    const source = addresses.admit(req.socket.remoteAddress);
    if (!source) return refuseConnection(socket, 429, 'connection limit of one source address reached');
    // Counted until the TCP connection is gone, whatever becomes of the upgrade.
    socket.once('close', () => addresses.release(source));
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, socket, source));
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  if (cluster) {
    // The other processes are heard before the first client is.
    try {
      await cluster.start(toBase64Url(keys.fingerprint));
    } catch (error) {
      mesh.close();
      await store.close();
      await blobStore.close();
      cardStore.close();
      throw error;
    }
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (cause) {
    mesh.close();
    await bus.close();
    await blobStore.close();
    await stores.close();
    await cardStore.close();
    throw new TransportError(`cannot listen on ${host}:${opts.port ?? 0}`, { cause });
  }
  const bound = server.address();
  if (bound === null || typeof bound === 'string') {
    server.close();
    mesh.close();
    await bus.close();
    await blobStore.close();
    await stores.close();
    await cardStore.close();
    throw new TransportError('server has no TCP address');
  }
  const port = bound.port;
  address = relayAddressFor(keys, opts.publicHost ?? host, port);
  mesh.start();

  const purge = async (): Promise<void> => {
    try {
      const n = await store.purgeExpired(now());
      counters.messagesExpired += n;
      if (n > 0) log(`purged ${n} expired messages`);
      const b = await blobStore.purgeExpired(now());
      counters.blobsExpired += b;
      if (b > 0) log(`purged ${b} expired blobs`);
      const c = await cardStore.purgeExpired(now());
      if (c > 0) log(`purged ${c} expired card records`);
      const unused = await lists.purgeUnused(now() - limits.messageTtlMs);
      if (unused > 0) log(`purged ${unused} unused fan-out lists`);
    } catch (error) {
      if (!closing) log(`purge failed: ${errorName(error)}`);
    }
  };
  void purge();
  const purgeTimer = setInterval(() => void purge(), limits.purgeIntervalMs);
  purgeTimer.unref();

  // A connection that did not answer the previous ping is gone without a FIN: drop it,
  // so that its subscriptions pass to the client's next connection.
  const heartbeatTimer = setInterval(() => {
    addresses.sweep();
    for (const [ws, conn] of connections) {
      if (conn.awaitingPong) {
        ws.terminate();
        continue;
      }
      conn.awaitingPong = true;
      ws.ping();
    }
  }, limits.heartbeatMs);
  heartbeatTimer.unref();

  const close = (): Promise<void> => {
    closing ??= (async () => {
      opts.signal?.removeEventListener('abort', onAbort);
      clearInterval(purgeTimer);
      clearInterval(heartbeatTimer);
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Writes already accepted commit now; their `ok` frames go out before the goodbye.
      await store.flush();
      mesh.close();
      await new Promise<void>((resolve) => setImmediate(resolve));
      const socketsClosed = [...connections.entries()].map(
        ([ws, conn]) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === ws.CLOSED) return resolve();
            ws.once('close', () => resolve());
            conn.shutdown();
            setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
          }),
      );
      await Promise.all(socketsClosed);
      server.closeAllConnections();
      await serverClosed;
      await store.flush();
      await bus.close();
      await blobStore.close();
      await stores.close();
      await cardStore.close();
      log('relay closed');
    })();
    return closing;
  };
  const onAbort = (): void => void close();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  log(`relay listening on ${host}:${port} as ${address}`);
  return {
    address,
    port,
    host,
    close,
    stats: () => {
      const totals = store.counts();
      const use = storage.use();
      return {
        uptimeMs: performance.now() - started,
        connections: connections.size,
        subscriptions: subscriptions.size,
        queues: totals.queues,
        messages: totals.messages,
        framesReceived: counters.framesReceived,
        errorsSent: counters.errorsSent,
        messagesStored: counters.messagesStored,
        messagesDelivered: subscriptions.delivered,
        messagesExpired: counters.messagesExpired,
        messagesAckedUnwritten: store.heldCounts.acked,
        messagesWrittenLate: store.heldCounts.written,
        blobs: blobStore.count,
        blobBytes: blobStore.storedBytes,
        blobsExpired: counters.blobsExpired,
        storedBytes: use.used,
        storageFull: use.full,
        connectionsRefused,
      };
    },
  };
}

/** What /health says of storage: in use, the budget, and whether new queues and blobs are refused. */
function healthStorage(use: { used: number; budget: number; full: boolean }): object {
  return { storageUsed: use.used, storageBudget: use.budget, storageFull: use.full };
}

function handleHttp(
  req: IncomingMessage,
  res: ServerResponse,
  site: StaticSite | undefined,
  address: () => string,
  health: () => object,
): void {
  route(req, res, site, address, health).catch(() => {
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
}

function json(res: ServerResponse, value: object): void {
  const body = JSON.stringify(value);
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  site: StaticSite | undefined,
  address: () => string,
  health: () => object,
): Promise<void> {
  const path = pathOf(req);
  // The web client asks which relay served it, to offer it as the account's relay.
  if (req.method === 'GET' && path === '/api/relay') return json(res, { address: address() });
  if (site && path !== '/health' && (await site.serve(req, res, path))) return;
  if (req.method === 'GET' && path === '/health') {
    const body = JSON.stringify(health());
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(body);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('not found\n');
}

function pathOf(req: IncomingMessage): string {
  try {
    return new URL(req.url ?? '/', 'http://relay.invalid').pathname;
  } catch {
    return '';
  }
}

function refuseUpgrade(socket: Duplex, status: number): void {
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
  );
}

/** ws hands over a Buffer (or pieces of one); the codecs want a plain Uint8Array. */
function asBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) {
    const whole = Buffer.concat(data);
    return new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength);
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function errorName(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : 'non-error thrown';
}
