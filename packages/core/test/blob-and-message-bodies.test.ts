/**
 * Codecs of the blob frames (blob-protocol.ts) and of the message bodies (message-body.ts):
 * round trip, truncated, mutated and oversized input, unknown fields, bad names.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BLOB_CHUNK_BYTES,
  DecodeError,
  UsageError,
  blobChunkCount,
  blobChunkLength,
  decodeClientFrame,
  decodeFileBody,
  decodeRekeyBody,
  decodeRelayFrame,
  decodeStickerBody,
  decodeTextBody,
  decodeTypingBody,
  decodeUnsendBody,
  decodeReactionBody,
  encodeReactionBody,
  REACTIONS,
  encodeCbor,
  encodeFileBody,
  encodeFrame,
  encodeRekeyBody,
  encodeStickerBody,
  encodeTextBody,
  encodeUnsendBody,
  initCrypto,
  isFileName,
  isMimeType,
  formatRelayAddress,
  type BlobCommand,
  type BlobReply,
  type CborMap,
  type FileBody,
} from '../src/index.ts';

beforeAll(() => initCrypto());

const b = (n: number, v = 1): Uint8Array => new Uint8Array(n).fill(v);
const auth = b(32, 9);

const commands: BlobCommand[] = [
  { t: 'bnew', id: 1, uk: b(32, 1), dk: b(32, 2), size: 1234, auth },
  { t: 'bput', id: 2, bid: b(32, 3), n: 0, data: b(BLOB_CHUNK_BYTES, 4), auth },
  { t: 'bfin', id: 3, bid: b(32, 3), hash: b(32, 5), auth },
  { t: 'bstat', id: 4, bid: b(32, 3), auth },
  { t: 'bget', id: 5, bid: b(32, 3), n: 7, auth },
  { t: 'bdel', id: 6, bid: b(32, 3), auth },
];
const replies: BlobReply[] = [
  { t: 'blob', id: 1, bid: b(32, 3), size: 1234, have: 0, done: false, expires: 1_700_000_000_000 },
  { t: 'chunk', id: 5, n: 7, data: b(100, 6) },
];

describe('blob frames', () => {
  it('round-trip', () => {
    for (const f of commands) expect(decodeClientFrame(encodeFrame(f))).toEqual(f);
    for (const f of replies) expect(decodeRelayFrame(encodeFrame(f))).toEqual(f);
  });

  it('refuse truncated frames', () => {
    for (const f of [...commands.map((f) => encodeFrame(f)), ...replies.map((f) => encodeFrame(f))]) {
      const cut = f.subarray(0, f.length - 3);
      expect(() => decodeClientFrame(cut)).toThrow(DecodeError);
      expect(() => decodeRelayFrame(cut)).toThrow(DecodeError);
    }
  });

  it('refuse mutated fields: sizes of ids, keys and hashes, a missing auth, size 0', () => {
    const bad: CborMap[] = [
      { t: 'bnew', id: 1, uk: b(31), dk: b(32), size: 1, auth },
      { t: 'bnew', id: 1, uk: b(32), dk: b(32), size: 0, auth },
      { t: 'bnew', id: 1, uk: b(32), dk: b(32), size: -1, auth },
      { t: 'bput', id: 2, bid: b(24), n: 0, data: b(10), auth },
      { t: 'bput', id: 2, bid: b(32), n: 0, data: b(10) },
      { t: 'bfin', id: 3, bid: b(32), hash: b(64), auth },
      { t: 'bget', id: 5, bid: b(32), n: 'x', auth },
      { t: 'bstat', id: 4, bid: b(32), auth: b(31) },
    ];
    for (const m of bad) expect(() => decodeClientFrame(encodeCbor(m))).toThrow(DecodeError);
  });

  it('refuse oversized chunks and blobs', () => {
    const over: CborMap = { t: 'bput', id: 2, bid: b(32), n: 0, data: b(BLOB_CHUNK_BYTES + 1), auth };
    expect(() => decodeClientFrame(encodeCbor(over))).toThrow(DecodeError);
    const huge: CborMap = { t: 'bnew', id: 1, uk: b(32), dk: b(32), size: 2 ** 40, auth };
    expect(() => decodeClientFrame(encodeCbor(huge))).toThrow(DecodeError);
    const chunk: CborMap = { t: 'chunk', id: 1, n: 0, data: b(BLOB_CHUNK_BYTES + 1) };
    expect(() => decodeRelayFrame(encodeCbor(chunk))).toThrow(DecodeError);
  });

  it('know the length of every chunk', () => {
    const size = 2 * BLOB_CHUNK_BYTES + 5;
    expect(blobChunkCount(size)).toBe(3);
    expect([0, 1, 2, 3, -1, 0.5].map((n) => blobChunkLength(size, n))).toEqual([
      BLOB_CHUNK_BYTES,
      BLOB_CHUNK_BYTES,
      5,
      0,
      0,
      0,
    ]);
    expect(blobChunkLength(BLOB_CHUNK_BYTES, 0)).toBe(BLOB_CHUNK_BYTES);
  });
});

// A relay address needs no real key to be well-formed: any 32 bytes make a fingerprint.
const relay = formatRelayAddress({ fingerprint: b(32, 7), host: '127.0.0.1', port: 7400, transport: 'ws' });
const file: FileBody = {
  relay,
  blob: b(32, 1),
  dk: b(32, 2),
  key: b(32, 3),
  header: b(24, 4),
  hash: b(32, 5),
  size: 1000,
  name: '報告 final.pdf',
  mime: 'application/pdf',
  expires: 1_800_000_000_000,
  thumb: b(100, 6),
};

describe('message bodies', () => {
  it('round-trip every kind', () => {
    const text = { text: '你好', replyTo: b(32), action: true as const };
    expect(decodeTextBody(encodeTextBody(text))).toEqual(text);
    expect(decodeStickerBody(encodeStickerBody({ pack: 'parus', id: 'hello' }))).toEqual({
      pack: 'parus',
      id: 'hello',
    });
    expect(decodeFileBody(encodeFileBody(file))).toEqual(file);
    expect(decodeUnsendBody(encodeUnsendBody({ target: b(32) }))).toEqual({ target: b(32) });
    expect(() => decodeTypingBody({})).not.toThrow();
    for (const reply of [true, false]) expect(decodeRekeyBody(encodeRekeyBody({ reply }))).toEqual({ reply });
  });

  it('a text body decodes only what encodeTextBody makes: no empty message (found by fuzzing)', () => {
    expect(() => encodeTextBody({ text: '' })).toThrow(UsageError);
    expect(() => decodeTextBody({ text: '' })).toThrow(DecodeError);
    expect(() => decodeTextBody({ text: '', action: true })).toThrow(DecodeError);
  });

  it('refuse unknown fields, missing fields and wrong types', () => {
    expect(() => decodeTextBody({ text: 'x', extra: 1 })).toThrow(DecodeError);
    expect(() => decodeTextBody({ text: 'x', action: false })).toThrow(DecodeError);
    expect(() => decodeTextBody({})).toThrow(DecodeError);
    expect(() => decodeStickerBody({ pack: 'parus' })).toThrow(DecodeError);
    expect(() => decodeStickerBody({ pack: 'parus', id: 'hello', x: 1 })).toThrow(DecodeError);
    expect(() => decodeUnsendBody({ target: b(31) })).toThrow(DecodeError);
    expect(() => decodeTypingBody({ x: 1 })).toThrow(DecodeError);
    expect(() => decodeRekeyBody({})).toThrow(DecodeError);
    expect(() => decodeRekeyBody({ reply: 1 })).toThrow(DecodeError);
    expect(() => decodeRekeyBody({ reply: true, x: 1 })).toThrow(DecodeError);
    expect(() => decodeRekeyBody([])).toThrow(DecodeError);
    const { name: _name, ...noName } = encodeFileBody(file);
    expect(() => decodeFileBody(noName)).toThrow(DecodeError);
    expect(() => decodeFileBody({ ...encodeFileBody(file), more: 1 })).toThrow(DecodeError);
    expect(() => decodeFileBody({ ...encodeFileBody(file), relay: 'http://example' })).toThrow(DecodeError);
    expect(() => decodeFileBody({ ...encodeFileBody(file), header: b(23) })).toThrow(DecodeError);
  });

  it('refuse oversized and malformed contents', () => {
    expect(() => decodeTextBody({ text: 'x'.repeat(16 * 1024 + 1) })).toThrow(DecodeError);
    expect(() => decodeFileBody({ ...encodeFileBody(file), thumb: b(16 * 1024 + 1) })).toThrow(DecodeError);
    expect(() => decodeFileBody({ ...encodeFileBody(file), size: 2 ** 40 })).toThrow(DecodeError);
    for (const name of ['', ' lead', 'a\u0000b', 'new\nline', 'rtl\u202eexe', 'x'.repeat(256)]) {
      expect(isFileName(name)).toBe(false);
      expect(() => decodeFileBody({ ...encodeFileBody(file), name })).toThrow(DecodeError);
    }
    for (const mime of ['text', 'text/', 'Text/Plain', 'text/plain; charset=utf-8', 'a/b/c'])
      expect(isMimeType(mime)).toBe(false);
    for (const [pack, id] of [
      ['parus', '../x'],
      ['Parus', 'hello'],
      ['parus', ''],
      ['parus', 'x'.repeat(33)],
      ['parus', '貼圖'],
    ]) {
      expect(() => decodeStickerBody({ pack: pack!, id: id! })).toThrow(DecodeError);
      expect(() => encodeStickerBody({ pack: pack!, id: id! })).toThrow(UsageError);
    }
    expect(() => encodeTextBody({ text: '' })).toThrow(UsageError);
    expect(() => encodeFileBody({ ...file, name: 'a/b\u0007' })).toThrow(UsageError);
  });
});

describe('reaction body', () => {
  const id = new Uint8Array(32).fill(7);
  it('round-trips every reaction of the set, and the empty one that takes it back', () => {
    for (const emoji of [...REACTIONS, ''])
      expect(decodeReactionBody(encodeReactionBody({ target: id, emoji }))).toEqual({ target: id, emoji });
  });
  it('refuses another emoji, text, a short id and unknown fields', () => {
    expect(() => encodeReactionBody({ target: id, emoji: '🍣' })).toThrow(UsageError);
    expect(() => encodeReactionBody({ target: id.subarray(1), emoji: '👍' })).toThrow(UsageError);
    expect(() => decodeReactionBody({ target: id, emoji: 'hello' })).toThrow(DecodeError);
    expect(() => decodeReactionBody({ target: id, emoji: '\u202e👍' })).toThrow(DecodeError);
    expect(() => decodeReactionBody({ target: id.subarray(1), emoji: '👍' })).toThrow(DecodeError);
    expect(() => decodeReactionBody({ target: id, emoji: '👍', by: 'x' })).toThrow(DecodeError);
  });
});
