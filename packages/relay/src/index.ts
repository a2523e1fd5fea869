/** The Parus relay: what the CLI and the tests may use. Nothing else is public. */
export { startRelay, RELAY_VERSION, QUEUE_DATABASE_FILE, HARD_FRAME_BYTES } from './relay-server.ts';
export type { Relay, RelayOptions, RelayStats } from './relay-server.ts';
export { tuneRelayProcess } from './process-tuning.ts';
export { DEFAULT_RELAY_LIMITS, SMALL_RELAY_LIMITS, resolveLimits } from './relay-limits.ts';
export type { RelayLimits } from './relay-limits.ts';
export { SERVER_KEY_FILE, loadOrCreateServerKeys, relayAddressFor } from './server-keys.ts';
export type { LoadServerKeysOptions, ServerKeys } from './server-keys.ts';
export { SqliteQueueStore } from './stores/sqlite/sqlite-queue-store.ts';
export type { SqliteQueueStoreOptions } from './stores/sqlite/sqlite-queue-store.ts';
export type {
  Accepted,
  AppendOptions,
  NewMessage,
  QueueRecord,
  QueueStore,
  SecureResult,
  StoreCounts,
  StoredMessage,
} from './queue-store.ts';
export { SqliteBlobStore, BLOB_DATABASE_FILE, BLOB_FOLDER } from './stores/sqlite/blob-store.ts';
export type { BlobStoreOptions } from './stores/sqlite/blob-store.ts';
export type { BlobRecord, BlobStore, BlobStoreKind } from './blob-store.ts';
export { checkTurnConfig, readTurnSecret, turnCredentials, DEFAULT_TURN_TTL_SECONDS } from './turn.ts';
export type { TurnConfig } from './turn.ts';
