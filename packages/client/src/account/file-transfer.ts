/**
 * Files in 1:1 conversations, the account's part for them (DESIGN.md "Files and media";
 * blob-transfer.ts moves the chunks): sending with upload state kept for resuming, the uploads
 * that did not finish, and downloading with the hash check.
 */
import {
  ExpiredError,
  FileDecryptor,
  NotFoundError,
  ParusError,
  ProtocolError,
  QuotaError,
  UsageError,
  VerificationError,
  createHasher,
  encodeFileBody,
  encryptFileChunks,
  equalBytes,
  fileCipherSize,
  generateDhKeyPair,
  hash,
  isFileName,
  isMimeType,
  MAX_FILE_BYTES,
  MAX_THUMBNAIL_BYTES,
  MAX_VOICE_MS,
  MAX_VOICE_WAVE,
  SECRETSTREAM_HEADER_BYTES,
  SECRETSTREAM_KEY_BYTES,
  wipe,
  type FileBody,
} from '@parus/core';
import type { MessageInfo, OutgoingFile, UploadInfo } from '../public-shapes.ts';
import { downloadBlob, uploadBlob, type FileSink, type TransferOptions } from '../blob-transfer.ts';
import { decodeMessage, decodeUpload, encodeRecord, type UploadRecord } from '../records.ts';
import type { RelayConnection } from '../relay-connection.ts';
import { C, fromHexId, hex, type AccountContext } from './account-context.ts';
import type { DirectMessaging } from './direct-messaging.ts';

/** What file transfer uses of the account. */
export type FileTransferContext = Pick<
  AccountContext,
  | 'store'
  | 'rng'
  | 'now'
  | 'lock'
  | 'contactsById'
  | 'self'
  | 'connection'
  | 'connected'
  | 'mustContact'
  | 'mustSendable'
>;

export class FileTransfer {
  constructor(
    private readonly ctx: FileTransferContext,
    private readonly messaging: DirectMessaging,
  ) {}

  /**
   * Sends a file end to end encrypted (DESIGN.md "Files and media"): it is encrypted with a
   * fresh key (secretstream, file-stream.ts), uploaded to our relay as a blob in chunks, and
   * then a `file` message carries the blob's place, the key and the ciphertext's hash.
   * The upload's state is stored first, so calling sendFile again with the same file and
   * contact (after an abort, a crash, a restart) continues from what the relay has.
   * Throws QuotaError for a file larger than Parus (or the relay) takes.
   */
  async sendFile(
    alias: string,
    file: OutgoingFile,
    opts: TransferOptions & { replyTo?: string } = {},
  ): Promise<MessageInfo> {
    checkOutgoing(file, opts.signal);
    const c = this.ctx.mustSendable(alias);
    const { u, body } = await this.upload(c.id, file, opts);
    try {
      return await this.messaging.sendUserMessage(
        alias,
        'file',
        opts.replyTo,
        (replyTo) => ({
          body: replyTo ? { ...encodeFileBody(body), replyTo } : encodeFileBody(body),
          fields: { text: '', file: body, uploadKey: u.uk },
        }),
        () => [{ type: 'del', collection: C.uploads, key: hex(u.id) }],
      );
    } finally {
      // Stored (sealed) with the message by now; the copies in memory go.
      wipe(u.key, u.uk, u.dk);
    }
  }

  /**
   * Sends a file into a group or room (decision 0056's neighbour, 0044 "Not done"): the same
   * one blob upload as for a contact, keyed by the group's id so that calling it again resumes;
   * `send` then puts the body (place, keys, hash) into one group message, encrypted once with
   * my sender key and fanned out like any other. `check` runs before anything is uploaded (may
   * I write in this group?), so a refusal costs no upload.
   */
  async sendGroupFile(
    group: Uint8Array,
    file: OutgoingFile,
    opts: TransferOptions,
    check: () => void,
    send: (body: FileBody) => Promise<MessageInfo>,
  ): Promise<MessageInfo> {
    checkOutgoing(file, opts.signal);
    check();
    const { u, body } = await this.upload(group, file, opts);
    try {
      const m = await send(body);
      await this.deleteUpload(u);
      return m;
    } finally {
      wipe(u.key, u.uk, u.dk);
    }
  }

  /** The upload of `file` for `owner` (a contact's or a group's id), resumed when it was begun. */
  private async upload(
    owner: Uint8Array,
    file: OutgoingFile,
    opts: TransferOptions,
  ): Promise<{ u: UploadRecord; body: FileBody }> {
    const { bytes, name, mime, thumbnail } = file;
    const plainHash = hash(bytes, 32);
    let upload = await this.findUpload(owner, plainHash, name, bytes.length);
    const relay = await this.ctx.connected(this.ctx.self().relay, 15_000);
    if (upload) {
      // The relay may have dropped an unfinished upload (expiry) or lost it: start over.
      const known = await relay
        .command({ t: 'bstat', bid: upload.blob }, upload.uk)
        .then(() => true)
        .catch((e: unknown) => {
          if (e instanceof ParusError && (e.code === 'NOT_FOUND' || e.code === 'EXPIRED')) return false;
          throw e;
        });
      if (!known) {
        await this.deleteUpload(upload);
        upload = undefined;
      }
    }
    if (!upload)
      upload = await this.newUpload(owner, relay, { bytes, plainHash, name, mime, thumbnail }, opts.signal);
    const u = upload;
    let finished;
    try {
      finished = await uploadBlob(
        {
          relay,
          blob: u.blob,
          uk: u.uk,
          size: fileCipherSize(u.size),
          hash: u.hash,
          chunks: () => encryptFileChunks(u.key, u.header, bytes),
        },
        opts,
      );
    } catch (e) {
      // A blob the relay refused at the end cannot be resumed; anything else can.
      if (
        e instanceof ParusError &&
        (e.code === 'VERIFICATION' || e.code === 'NOT_FOUND' || e.code === 'EXPIRED')
      )
        await this.deleteUpload(u);
      throw e;
    }
    const body: FileBody = {
      relay: u.relay,
      blob: u.blob,
      dk: u.dk,
      key: u.key,
      header: u.header,
      hash: u.hash,
      size: u.size,
      name: u.name,
      mime: u.mime,
      expires: finished.expires,
    };
    if (u.thumb) body.thumb = u.thumb;
    if (file.voice) body.voice = { ms: file.voice.ms, wave: Uint8Array.from(file.voice.wave) };
    return { u, body };
  }

  private async findUpload(
    owner: Uint8Array,
    plainHash: Uint8Array,
    name: string,
    size: number,
  ): Promise<UploadRecord | undefined> {
    for (const { value } of await this.ctx.store.list(C.uploads)) {
      const u = decodeUpload(value);
      if (
        equalBytes(u.contact, owner) &&
        equalBytes(u.plainHash, plainHash) &&
        u.name === name &&
        u.size === size
      )
        return u;
    }
    return undefined;
  }

  /**
   * Starts an upload: fresh keys, one encryption pass to learn the ciphertext's hash (which
   * `bfin` and the message carry), a blob reserved on the relay, and the state stored.
   */
  private async newUpload(
    owner: Uint8Array,
    relay: RelayConnection,
    f: {
      bytes: Uint8Array;
      plainHash: Uint8Array;
      name: string;
      mime: string;
      thumbnail: Uint8Array | undefined;
    },
    signal: AbortSignal | undefined,
  ): Promise<UploadRecord> {
    const key = this.ctx.rng.bytes(SECRETSTREAM_KEY_BYTES);
    const header = this.ctx.rng.bytes(SECRETSTREAM_HEADER_BYTES);
    const hasher = createHasher(32);
    let n = 0;
    for (const chunk of encryptFileChunks(key, header, f.bytes)) {
      hasher.update(chunk);
      if (++n % 16 === 0) {
        await new Promise((r) => setTimeout(r, 0)); // keep a page responsive
        signal?.throwIfAborted();
      }
    }
    const uk = generateDhKeyPair(this.ctx.rng);
    const dk = generateDhKeyPair(this.ctx.rng);
    const answer = await relay.command(
      { t: 'bnew', uk: uk.publicKey, dk: dk.publicKey, size: fileCipherSize(f.bytes.length) },
      uk.secretKey,
    );
    if (answer.t !== 'blob') throw new ProtocolError('relay answered bnew with something else');
    const upload: UploadRecord = {
      id: this.ctx.rng.bytes(16),
      contact: owner,
      plainHash: f.plainHash,
      name: f.name,
      mime: f.mime,
      size: f.bytes.length,
      key,
      header,
      uk: uk.secretKey,
      dk: dk.secretKey,
      relay: this.ctx.self().relay,
      blob: answer.bid,
      hash: hasher.digest(),
      created: this.ctx.now(),
    };
    if (f.thumbnail) upload.thumb = f.thumbnail.slice();
    await this.ctx.lock.run(() =>
      this.ctx.store.batch([
        { type: 'put', collection: C.uploads, key: hex(upload.id), value: encodeRecord(upload) },
      ]),
    );
    return upload;
  }

  /** Uploads that did not finish (for a UI to offer resuming them: sendFile with the same file). */
  async pendingUploads(): Promise<UploadInfo[]> {
    const out: UploadInfo[] = [];
    for (const { value } of await this.ctx.store.list(C.uploads)) {
      const u = decodeUpload(value);
      const c = this.ctx.contactsById.get(hex(u.contact));
      if (!c) continue;
      out.push({
        id: hex(u.id),
        alias: c.alias,
        name: u.name,
        mime: u.mime,
        size: u.size,
        created: u.created,
      });
    }
    return out.sort((a, b) => a.created - b.created);
  }

  /** Forgets an unfinished upload; the relay drops its part when the reservation expires. */
  async cancelUpload(id: string): Promise<void> {
    if (!/^[0-9a-f]{32}$/.test(id)) throw new UsageError('upload id must be 32 hex characters');
    await this.ctx.lock.run(async () => {
      if (!(await this.ctx.store.get(C.uploads, id))) throw new NotFoundError('no such upload');
      await this.ctx.store.batch([{ type: 'del', collection: C.uploads, key: id }]);
    });
  }

  /**
   * Downloads and decrypts a file message's contents: chunk by chunk from the relay that
   * holds it (resuming after a lost connection), each chunk authenticated by the stream,
   * the whole checked against the hash the signed message carries (VerificationError).
   * ExpiredError once the relay's expiry has passed; NotFoundError for an unsent message.
   */
  /**
   * Downloads a received file into `sink`, one decrypted chunk (at most FILE_CHUNK_BYTES) at a
   * time and in order, never holding the whole file: the sink sees each chunk once, the next
   * waits until its `write` settles, and the chunk is wiped then (a sink copies what it keeps).
   * Resolves once every chunk is written and the file matches the hash its signed message
   * names; VerificationError otherwise, and then what the sink got must be thrown away (the
   * CLI writes to a temporary file and deletes it).
   */
  async downloadFileTo(
    alias: string,
    messageId: string,
    sink: FileSink,
    opts: TransferOptions = {},
  ): Promise<void> {
    await this.fetchInto(await this.receivedFile(alias, messageId, opts), sink, opts);
  }

  /** The whole file in memory (the browser's path): downloadFileTo into one buffer. */
  async downloadFile(alias: string, messageId: string, opts: TransferOptions = {}): Promise<Uint8Array> {
    return this.downloadBody(await this.receivedFile(alias, messageId, opts), opts);
  }

  /** The file a received message names, if it can still be fetched. */
  private async receivedFile(alias: string, messageId: string, opts: TransferOptions): Promise<FileBody> {
    opts.signal?.throwIfAborted();
    const c = this.ctx.mustContact(alias);
    const raw = await this.ctx.store.get(C.messages(c.id), hex(fromHexId(messageId)));
    if (!raw) throw new NotFoundError('no such message');
    const m = decodeMessage(raw);
    if (m.unsent !== undefined) throw new NotFoundError('the message was unsent');
    const f = m.file;
    if (!f) throw new UsageError('this message is not a file');
    if (this.ctx.now() >= f.expires) throw new ExpiredError('the file has expired on its relay');
    return f;
  }

  /**
   * Downloads a group file message's contents (`f` from the group's record of it) into `sink`,
   * with the same checks as a 1:1 file: expiry, every chunk authenticated, the hash at the end.
   */
  async downloadBodyTo(f: FileBody, sink: FileSink, opts: TransferOptions = {}): Promise<void> {
    opts.signal?.throwIfAborted();
    if (this.ctx.now() >= f.expires) throw new ExpiredError('the file has expired on its relay');
    await this.fetchInto(f, sink, opts);
  }

  /** downloadBodyTo into one buffer (the browser's path, 1:1 and groups). */
  async downloadBody(f: FileBody, opts: TransferOptions = {}): Promise<Uint8Array> {
    const out = new Uint8Array(f.size);
    let offset = 0;
    try {
      await this.downloadBodyTo(
        f,
        {
          write: (chunk) => {
            out.set(chunk, offset);
            offset += chunk.length;
          },
        },
        opts,
      );
      return out;
    } catch (e) {
      wipe(out); // no partial plaintext outlives a failed download
      throw e;
    }
  }

  private async fetchInto(f: FileBody, sink: FileSink, opts: TransferOptions): Promise<void> {
    const relay = this.ctx.connection(f.relay);
    relay.connect();
    try {
      const decryptor = new FileDecryptor(f.key, f.header, f.size);
      const hasher = createHasher(32);
      await downloadBlob(
        {
          relay,
          blob: f.blob,
          dk: f.dk,
          size: fileCipherSize(f.size),
          take: async (_n, data) => {
            hasher.update(data);
            const plain = decryptor.push(data);
            try {
              await sink.write(plain);
            } finally {
              wipe(plain);
            }
          },
        },
        opts,
      );
      decryptor.finish();
      // The stream authenticates every chunk; the hash also binds them to the signed message.
      if (!equalBytes(hasher.digest(), f.hash))
        throw new VerificationError('file does not match the hash in its message');
    } finally {
      wipe(f.key, f.dk);
    }
  }

  private async deleteUpload(u: UploadRecord): Promise<void> {
    await this.ctx.lock.run(() =>
      this.ctx.store.batch([{ type: 'del', collection: C.uploads, key: hex(u.id) }]),
    );
  }
}

/** The engine's checks of a file to send, before anything is read or uploaded. */
function checkOutgoing(file: OutgoingFile, signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
  const { bytes, name, mime, thumbnail } = file;
  if (!(bytes instanceof Uint8Array)) throw new UsageError('file contents must be a Uint8Array');
  if (bytes.length > MAX_FILE_BYTES) throw new QuotaError(`file larger than ${MAX_FILE_BYTES} bytes`);
  if (!isFileName(name))
    throw new UsageError('file name must be 1-255 characters without control characters');
  if (!isMimeType(mime)) throw new UsageError('MIME type must look like type/subtype');
  if (
    thumbnail !== undefined &&
    (!(thumbnail instanceof Uint8Array) || thumbnail.length > MAX_THUMBNAIL_BYTES)
  )
    throw new UsageError(`thumbnail must be bytes, at most ${MAX_THUMBNAIL_BYTES}`);
  const v = file.voice;
  if (
    v !== undefined &&
    (!Number.isSafeInteger(v.ms) ||
      v.ms < 0 ||
      v.ms > MAX_VOICE_MS ||
      !(v.wave instanceof Uint8Array) ||
      v.wave.length > MAX_VOICE_WAVE)
  )
    throw new UsageError(
      `a voice message is at most ${MAX_VOICE_MS} ms with at most ${MAX_VOICE_WAVE} levels`,
    );
}
