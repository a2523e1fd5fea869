/**
 * What the account engine shows of itself to UIs and to its own parts: contacts, messages, files,
 * unfinished uploads and calls. Pure shapes, with nothing above them: the facade (account.ts), its parts
 * (account/) and the group engine (groups/) all take them from here.
 */
import type { CallCandidate } from '@parus/core';
import type { ContactState, MessageStatus } from './records.ts';

export interface ContactInfo {
  alias: string;
  name: string;
  state: ContactState;
  status: 'pending' | 'active';
  safetyNumber: string;
  keyChanged: boolean;
  created: number;
  /** The display name the contact sent (decision 0056), shown beside the alias. */
  profileName?: string;
  /** The contact sent an avatar (Account.contactAvatar). */
  avatar?: boolean;
}

/** What a UI shows of a file message; the keys stay inside the engine. */
export interface FileInfo {
  name: string;
  mime: string;
  /** Plaintext bytes. */
  size: number;
  /** When the relay deletes the file, ms since the epoch; downloadFile fails after it. */
  expires: number;
  /** A small preview image made by the sender's UI (at most 16 KB). */
  thumbnail?: Uint8Array;
  /** A voice message (decision 0046): length in ms, waveform levels 0-255. */
  voice?: { ms: number; wave: Uint8Array };
}

export interface MessageInfo {
  id: string;
  /** The contact's alias; for a group message, the group's alias or name. */
  alias: string;
  /** Group messages only: the group's id (hex). */
  group?: string;
  /** Group messages only: who wrote it (their nick, or how this device knows them). */
  from?: string;
  /** Group messages only, sent ones: how many members have it, and how many read it (已讀 N). */
  deliveredCount?: number;
  readCount?: number;
  /** Group messages only: placed where it arrived because its parents were long superseded (seed 003). */
  late?: boolean;
  /**
   * Group messages only, late or confirmed ones: how many members confirmed it, how many it
   * needs (an admin's confirmation is enough alone), and whether it now sits at its claimed place.
   */
  confirmations?: number;
  confirmationsNeeded?: number;
  confirmed?: true;
  /** Group messages only: an earlier message a member shared when I joined (history sharing). */
  history?: true;
  dir: 'in' | 'out';
  /** `text`, `sticker` or `file`. */
  kind: string;
  /** Empty for stickers, files and unsent messages. */
  text: string;
  replyTo?: string;
  ts: number;
  lamport: number;
  status: MessageStatus;
  /** A `/me` action: show as "* name text". */
  action?: true;
  sticker?: { pack: string; id: string };
  file?: FileInfo;
  /** A call-log entry (kind `call-log`, decision 0046): 通話時間 3:12, 未接來電. */
  call?: { video: boolean; outcome: 'answered' | 'missed' | 'declined' | 'busy' | 'failed'; secs?: number };
  /** Taken back by its author (收回): a tombstone without contents. */
  unsent?: true;
  /** Reactions (one per person, REACTIONS in core message-body.ts); `me` marks mine. */
  reactions?: Array<{ emoji: string; from: string; me?: true }>;
}

/** A file to send: its contents as bytes, so that browsers and Node pass the same thing. */
export interface OutgoingFile {
  name: string;
  /** A MIME type such as image/png; application/octet-stream when unknown. */
  mime: string;
  bytes: Uint8Array;
  /** A small preview image (at most 16 KB), made by the UI. */
  thumbnail?: Uint8Array;
  /** A voice message: its length (ms) and waveform (at most 64 levels), made by the UI. */
  voice?: { ms: number; wave: Uint8Array };
}

/** An upload that did not finish; sendFile with the same file and contact resumes it. */
export interface UploadInfo {
  id: string;
  alias: string;
  name: string;
  mime: string;
  size: number;
  created: number;
}

// ---- Calls (account/call-signalling.ts, decision 0046) ----

export type CallEndReason = 'hangup' | 'declined' | 'busy' | 'taken' | 'timeout' | 'fingerprint' | 'failed';

/** What the engine tells the UI about calls (the account's `call` event). */
export interface CallEvent {
  alias: string;
  /** The call id (hex). */
  call: string;
  /**
   * `incoming`: an offer rings here (sdp, fp, video). `answer`: the callee's answer (sdp).
   * `offer`: a renegotiation by the other side (an ICE restart; sdp). `ice`: candidates.
   * `ended`: the call is over (reason; `missed` for an incoming call never answered).
   */
  type: 'incoming' | 'answer' | 'offer' | 'ice' | 'ended';
  video?: boolean;
  sdp?: string;
  n?: number;
  cands?: CallCandidate[];
  reason?: CallEndReason;
  missed?: true;
}

/** An RTCIceServer. */
export interface TurnServer {
  urls: string[];
  username: string;
  credential: string;
}

export interface CallInfo {
  call: string;
  alias: string;
  dir: 'in' | 'out';
  video: boolean;
  state: 'ringing' | 'active' | 'ended';
  /** When the media connected (callConnected), ms since the epoch. */
  connectedAt?: number;
}

// ---- Group calls (groups/group-call-signalling.ts, decision 0053) ----

/**
 * What the engine tells the UI about group calls (the account's `groupCall` event).
 * `ring`: a member started a call in the group. `state`: who is in changed (a call I am not in).
 * `joined` / `left`: a member joined or left the call I am in (those already in offer to one who
 * joins). `offer`, `answer`, `ice`: one pair's signalling, from `member`. `refused`: that
 * member's pair is refused (reason `fingerprint`: the media path is not what it signed).
 * `ended`: the call is over here (everyone left; or reason `full`: my join was refused).
 */
export interface GroupCallEvent {
  /** The group id and the call id (hex). */
  group: string;
  call: string;
  type: 'ring' | 'state' | 'joined' | 'left' | 'offer' | 'answer' | 'ice' | 'refused' | 'ended';
  /** The member (member key, hex) and the name the group shows for them. */
  member?: string;
  name?: string;
  video?: boolean;
  sdp?: string;
  n?: number;
  cands?: CallCandidate[];
  reason?: 'fingerprint' | 'full' | 'left' | 'timeout';
}

export interface GroupCallInfo {
  group: string;
  call: string;
  video: boolean;
  /** When it started (the first ring), ms since the epoch. */
  started: number;
  /** Whether this device is in the call. */
  joined: boolean;
  /** My member key (hex) in the group. */
  me: string;
  /** Who is in it (me included when joined), at most MAX_GROUP_CALL_PARTICIPANTS. */
  members: Array<{ key: string; name: string }>;
  /** Members whose pair was refused (their fingerprint did not hold). */
  refused: string[];
}
