/**
 * Linking a device, both sides, over a `LinkChannel` (core device-link.ts, docs/decisions/0030
 * "Linking", 0031, 0041): the CLI and the web client run the same two flows.
 *
 * - `offerDeviceLink` (the new device): shows a `parus:device/` link, waits for an answer, shows
 *   the short code, receives the account snapshot once the user confirmed, lets the caller
 *   create the account from it, and sends the new device's own `add` op back.
 * - `answerDeviceLink` (an existing device): answers a link, shows the same code, sends the
 *   snapshot (with the history the user chose) once confirmed, and appends the new device's
 *   `add` op to its log.
 *
 * The link queues are unsecured, so anyone who saw the link can write to them: bodies that do
 * not decode, or belong to another link, are skipped rather than allowed to end the link.
 */
import {
  DecodeError,
  LinkTransferReader,
  ProtocolError,
  ReplayError,
  UsageError,
  answerLinkOffer,
  createLinkOffer,
  decodeLinkMessage,
  equalBytes,
  parseLinkOffer,
  receiveLinkAnswer,
  receiveLinkNonce,
  receiveLinkReveal,
  sealLinkTransfer,
  toHex,
  type LinkMessage,
  type LinkSession,
  type Random,
} from '@parus/core';
import type { Account } from './account.ts';
import type { DeviceInfo } from './account/device-registry.ts';
import { decodeSnapshot, encodeSnapshot, type AccountSnapshot } from './account-snapshot.ts';
import type { HistoryChoice } from './history-snapshot.ts';
import { LinkChannel } from './link-channel.ts';
import type { Transport } from './transport.ts';

/** How long a linking device waits for the other one after the code is shown. */
export const TRANSFER_WAIT_MS = 10 * 60_000;

/** The user's answer to "same code on both devices?"; false ends the link, nothing sent. */
export type ConfirmCode = (code: string) => Promise<boolean>;

async function nextMessage(
  channel: LinkChannel,
  id: Uint8Array,
  deadline: number,
  signal?: AbortSignal,
): Promise<LinkMessage> {
  for (;;) {
    let message: LinkMessage;
    try {
      message = decodeLinkMessage(await channel.next(deadline, signal));
    } catch (e) {
      if (e instanceof DecodeError) continue;
      throw e;
    }
    if (equalBytes(message.id, id)) return message;
  }
}

/** Writes every frame in order (a relay keeps a queue's order). */
async function sendAll(channel: LinkChannel, sid: Uint8Array, frames: Uint8Array[]): Promise<void> {
  for (const f of frames) await channel.send(sid, f);
}

/** Reads `data` frames until the payload is complete (frames seen before are skipped). */
async function receiveAll(
  channel: LinkChannel,
  id: Uint8Array,
  reader: LinkTransferReader,
  deadline: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  for (;;) {
    let payload: Uint8Array | undefined;
    try {
      payload = reader.push(await nextMessage(channel, id, deadline, signal));
    } catch (e) {
      if (e instanceof ReplayError) continue;
      throw e;
    }
    if (payload) return payload;
  }
}

async function confirmed(confirm: ConfirmCode, code: string): Promise<void> {
  if (!(await confirm(code))) throw new UsageError('the codes were not confirmed: nothing was linked');
}

/**
 * The new device's side. `onLink` gets the link to show (text and QR); `confirm` the short
 * code; `adopt` the received snapshot, and must create the account from it and return the
 * encoded `add` op the new device signed (`account.devices.lastOp()`). If `adopt` throws,
 * nothing is sent back and the error goes on.
 */
export async function offerDeviceLink<T>(opts: {
  relay: string;
  name: string;
  transport: Transport;
  rng: Random;
  onLink: (link: string, expires: number) => void;
  confirm: ConfirmCode;
  adopt: (snapshot: AccountSnapshot, code: string) => Promise<{ op: Uint8Array; result: T }>;
  /** Told how many bytes of the snapshot arrived, for a progress line. */
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
}): Promise<{ code: string; result: T }> {
  const channel = await LinkChannel.open({ address: opts.relay, transport: opts.transport, rng: opts.rng });
  try {
    const offered = createLinkOffer({
      rng: opts.rng,
      relay: opts.relay,
      sid: channel.sid,
      now: Date.now(),
      name: opts.name,
    });
    let state = offered.state;
    const expires = state.offer.expires;
    opts.onLink(offered.link, expires);
    let answerSid: Uint8Array | undefined;
    // The first answer counts; later ones (someone else who saw the link) are refused by core.
    while (!answerSid) {
      const message = await nextMessage(channel, state.offer.id, expires, opts.signal);
      if (message.t !== 'answer') continue;
      const r = receiveLinkAnswer(state, message, { rng: opts.rng, now: Date.now() });
      state = r.state;
      answerSid = message.sid;
      await channel.send(message.sid, r.reply);
    }
    let session: LinkSession | undefined;
    while (!session) {
      const message = await nextMessage(channel, state.offer.id, expires, opts.signal);
      if (message.t === 'answer') continue; // a second answer: ignored
      ({ session } = receiveLinkReveal(state, message));
    }
    await confirmed(opts.confirm, session.code);
    const reader = new LinkTransferReader(session.receiveKey, session.id);
    const bytes = await receiveAll(channel, session.id, reader, Date.now() + TRANSFER_WAIT_MS, opts.signal);
    opts.onBytes?.(bytes.length);
    const { op, result } = await opts.adopt(decodeSnapshot(bytes), session.code);
    await sendAll(
      channel,
      answerSid,
      sealLinkTransfer({ key: session.sendKey, id: session.id, rng: opts.rng, payload: op }),
    );
    return { code: session.code, result };
  } finally {
    await channel.close();
  }
}

/**
 * The existing device's side: answers `link`, and once the user confirmed the code sends the
 * account snapshot with `history`. The device log must be started (`devices.ensureLog`). An
 * answered link id is noted before the answer leaves, so the same link is a ReplayError even
 * after a crash.
 */
export async function answerDeviceLink(opts: {
  account: Account;
  link: string;
  history: HistoryChoice;
  transport: Transport;
  rng: Random;
  confirm: ConfirmCode;
  /** Told the code as soon as both sides can show it (before `confirm` is asked). */
  onCode?: (code: string) => void;
  signal?: AbortSignal;
}): Promise<{ code: string; device: DeviceInfo; bytes: number; messages: number }> {
  const offer = parseLinkOffer(opts.link);
  const { account } = opts;
  const id = toHex(offer.id);
  const channel = await LinkChannel.open({ address: offer.relay, transport: opts.transport, rng: opts.rng });
  try {
    const answered = await account.devices.linkAnswered(id);
    const { state, message } = answerLinkOffer({
      offer,
      rng: opts.rng,
      now: Date.now(),
      relay: offer.relay,
      sid: channel.sid,
      answered: () => answered,
    });
    // Noted before the answer leaves: a crash after it still refuses the link again.
    await account.devices.markLinkAnswered(id, offer.expires);
    await channel.send(offer.sid, message);
    let reply;
    while (!reply) {
      const m = await nextMessage(channel, offer.id, offer.expires, opts.signal);
      if (m.t !== 'nonce') throw new ProtocolError('expected the new device’s nonce');
      reply = receiveLinkNonce(state, m);
    }
    await channel.send(offer.sid, reply.reply);
    const { session } = reply;
    opts.onCode?.(session.code);
    await confirmed(opts.confirm, session.code);
    const snapshot = await account.snapshot({ history: opts.history });
    const payload = encodeSnapshot(snapshot);
    await sendAll(
      channel,
      offer.sid,
      sealLinkTransfer({ key: session.sendKey, id: session.id, rng: opts.rng, payload }),
    );
    const op = await receiveAll(
      channel,
      session.id,
      new LinkTransferReader(session.receiveKey, session.id, 8192),
      Date.now() + TRANSFER_WAIT_MS,
      opts.signal,
    );
    const device = await account.devices.acceptAdd(op);
    return { code: session.code, device, bytes: payload.length, messages: snapshot.history?.length ?? 0 };
  } finally {
    await channel.close();
  }
}
