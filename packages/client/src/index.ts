export { Account } from './account.ts';
export type {
  AccountEvents,
  AccountOptions,
  ContactInfo,
  FileInfo,
  FileSink,
  MessageInfo,
  OutgoingFile,
  TransferOptions,
  TransferProgress,
  UploadInfo,
} from './account.ts';
export type { ContactState, MessageStatus } from './records.ts';
export type { MyCode, ResolvedInvite } from './account/short-invitations.ts';
export type { RoomLinkPair } from './account/short-room-links.ts';
export { MAX_SEARCH_CHARS, MAX_SEARCH_LIMIT, foldForSearch } from './search.ts';
export type { SearchHit } from './search.ts';
export type { CallEvent, CallInfo, CallEndReason, TurnServer } from './account/call-signalling.ts';
export type { GroupCallEvent, GroupCallInfo } from './public-shapes.ts';
export type { GroupCallSignalling } from './groups/group-call-signalling.ts';
export { CALL_RING_TIMEOUT_MS } from './account/call-signalling.ts';
export { GroupEngine, BACKDATE_WINDOW_MS, MAX_GROUP_MEMBERS } from './groups/group-engine.ts';
export type { ChatRequestInfo, GroupChange, GroupInfo, GroupMemberInfo } from './groups/group-engine.ts';
export { DEFAULT_ROOM_LIMITS } from './groups/room-limits.ts';
export type { RoomLimits } from './groups/room-limits.ts';
export { ROOM_REFUSALS } from './groups/room-refusal.ts';
export type { RoomRefusal } from './groups/room-refusal.ts';
export { MemoryStore } from './store.ts';
export type { Store, StoreEntry, StoreOp } from './store.ts';
export { SealedStore } from './sealed-store.ts';
export { WebSocketTransport } from './transport.ts';
export type { Transport, TransportConnection, WebSocketConstructor, WebSocketLike } from './transport.ts';
export { RelayConnection } from './relay-connection.ts';
export type { FanoutEntry, FanoutSendResult, RelayConnectionOptions } from './relay-connection.ts';
export { Emitter } from './events.ts';
export { DeviceRegistry } from './account/device-registry.ts';
export type { DeviceInfo, DevicesPart, AccountKeyParams } from './account/device-registry.ts';
export type { SettleResult } from './account/account-passphrase.ts';
export { encodeSnapshot, decodeSnapshot, SNAPSHOT_VERSION } from './account-snapshot.ts';
export type { AccountSnapshot, SnapshotContact } from './account-snapshot.ts';
export {
  parseHistoryChoice,
  MAX_SNAPSHOT_MESSAGES,
  MAX_HISTORY_DAYS,
  collectHistory,
} from './history-snapshot.ts';
export type { HistoryChoice, SnapshotMessage } from './history-snapshot.ts';
export { LinkChannel } from './link-channel.ts';
export { answerDeviceLink, offerDeviceLink, TRANSFER_WAIT_MS } from './device-linking.ts';
export type { ConfirmCode } from './device-linking.ts';
