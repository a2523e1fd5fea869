// The group engine's codecs: what members send each other, and what the engine stores.
import { describe, expect, it } from 'vitest';
import { DecodeError, ParusError, StorageError, decodeCbor, encodeCbor, type CborValue } from '@parus/core';
import {
  decodeGroupMessage,
  decodeGroupRecord,
  encodeGroupRecord,
  type GroupMessageRecord,
  type GroupRecord,
} from '../src/groups/group-records.ts';
import { decodeGroupPayload, encodeGroupPayload, type GroupPayload } from '../src/groups/group-wire.ts';

const b = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

const payloads: GroupPayload[] = [
  { t: 'bind', g: b(16, 1), m: b(32, 2), sig: b(64, 3) },
  { t: 'invite', g: b(16, 1), name: '賞鳥', m: b(32, 2), sig: b(64, 3) },
  { t: 'ev', g: b(16, 1), ev: [b(100, 4), b(3, 5)] },
  { t: 'skd', g: b(16, 1), d: b(120, 6) },
  { t: 'msg', g: b(16, 1), id: b(32, 7), c: b(300, 8) },
  { t: 'rcpt', g: b(16, 1), s: 'r', ids: [b(32, 9)] },
  { t: 'intro', g: b(16, 1), to: b(32, 10), from: b(32, 11), link: 'parus:abc' },
  { t: 'hist', g: b(16, 1), env: [b(500, 12), b(40 * 1024, 13)] },
  { t: 'lc', g: b(16, 1), id: b(32, 14), by: b(32, 15), sig: b(64, 16) },
];

describe('group payloads', () => {
  it('round-trip through CBOR', () => {
    for (const p of payloads) {
      const bytes = encodeCbor(encodeGroupPayload(p));
      expect(decodeGroupPayload(decodeCbor(bytes))).toEqual(p);
    }
  });

  it('refuse unknown types, extra or missing fields, wrong sizes and too many items', () => {
    const bad: CborValue[] = [
      { t: 'nope', g: b(16, 1) },
      { t: 'bind', g: b(16, 1), m: b(32, 2) },
      { t: 'bind', g: b(16, 1), m: b(32, 2), sig: b(64, 3), x: 1 },
      { t: 'bind', g: b(15, 1), m: b(32, 2), sig: b(64, 3) },
      { t: 'msg', g: b(16, 1), id: b(31, 7), c: b(10, 8) },
      { t: 'rcpt', g: b(16, 1), s: 'x', ids: [] },
      { t: 'rcpt', g: b(16, 1), s: 'd', ids: Array.from({ length: 257 }, () => b(32, 1)) },
      { t: 'ev', g: b(16, 1), ev: Array.from({ length: 65 }, () => b(1, 1)) },
      { t: 'ev', g: b(16, 1), ev: [b(8 * 1024 + 1, 1)] },
      { t: 'intro', g: b(16, 1), to: b(32, 1), from: b(32, 1), link: 'x'.repeat(8193) },
      // History bundles: at most 64 envelopes, 64 KiB each, 96 KiB in all.
      { t: 'hist', g: b(16, 1), env: Array.from({ length: 65 }, () => b(10, 1)) },
      { t: 'hist', g: b(16, 1), env: [b(64 * 1024 + 1, 1)] },
      { t: 'hist', g: b(16, 1), env: [b(60 * 1024, 1), b(40 * 1024, 2)] },
      { t: 'hist', g: b(16, 1), env: [b(10, 1)], x: 1 },
      // Confirmations: exact sizes and fields.
      { t: 'lc', g: b(16, 1), id: b(32, 1), by: b(32, 2), sig: b(63, 3) },
      { t: 'lc', g: b(16, 1), id: b(31, 1), by: b(32, 2), sig: b(64, 3) },
      { t: 'lc', g: b(16, 1), id: b(32, 1), sig: b(64, 3) },
      'not a map',
    ];
    for (const v of bad) {
      let error: unknown;
      try {
        decodeGroupPayload(v);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ParusError);
    }
    expect(() => decodeGroupPayload({ t: 'nope', g: b(16, 1) })).toThrow(DecodeError);
  });
});

describe('group records', () => {
  const rec: GroupRecord = {
    id: b(16, 1),
    status: 'joined',
    name: 'Birds',
    alias: 'birds',
    me: b(64, 2),
    inviter: b(16, 3),
    links: [{ m: b(32, 4), c: b(16, 5) }],
    invitees: [b(32, 6)],
    intros: [{ m: b(32, 7), at: 5 }],
    accept: [{ m: b(32, 8), link: 'parus:x' }],
    forwards: [{ to: b(32, 9), from: b(32, 10), link: 'parus:y' }],
    chain: b(100, 11),
    chainAt: 7,
    rotate: false,
    created: 9,
  };
  const msg: GroupMessageRecord = {
    id: b(32, 1),
    author: b(32, 2),
    dir: 'in',
    kind: 'action',
    text: '揮手',
    parents: [b(32, 3)],
    lamport: 4,
    ts: 5,
    received: 6,
    place: { parents: [b(32, 7)], lamport: 8 },
    delivered: 3,
    read: 1,
    shown: false,
    readByMe: true,
  };

  it('round-trip', () => {
    expect(decodeGroupRecord(encodeGroupRecord(rec))).toEqual(rec);
    expect(decodeGroupMessage(encodeGroupRecord(msg))).toEqual(msg);
    // Shared history and confirmations of a late message (docs/decisions/0014).
    const shared: GroupMessageRecord = { ...msg, hist: true, conf: [b(32, 10), b(32, 11)] };
    expect(decodeGroupMessage(encodeGroupRecord(shared))).toEqual(shared);
    const badConf = encodeCbor({
      ...(decodeCbor(encodeGroupRecord(shared)) as Record<string, CborValue>),
      conf: [b(31, 1)],
    });
    expect(() => decodeGroupMessage(badConf)).toThrow(StorageError);
  });

  it('reads a version 1 message, which named its receipts’ members, with counts and the lists apart', () => {
    const { delivered: _d, read: _r, ...rest } = msg;
    const v1 = encodeCbor({
      ...(rest as unknown as Record<string, CborValue>),
      delivered: [b(32, 8), b(32, 9)],
      read: [b(32, 9)],
    });
    const m = decodeGroupMessage(v1);
    expect(m.delivered).toBe(2);
    expect(m.read).toBe(1);
    expect(m.legacy).toEqual({ delivered: [b(32, 8), b(32, 9)], read: [b(32, 9)] });
    const badList = encodeCbor({ ...(decodeCbor(v1) as Record<string, CborValue>), read: [b(31, 1)] });
    expect(() => decodeGroupMessage(badList)).toThrow(StorageError);
  });

  it('report truncated and mutated records as damaged storage', () => {
    const bytes = encodeGroupRecord(rec);
    for (let n = 0; n < bytes.length; n += 7)
      expect(() => decodeGroupRecord(bytes.subarray(0, n))).toThrow(StorageError);
    const wrongStatus = encodeCbor({ ...(decodeCbor(bytes) as Record<string, CborValue>), status: 'boss' });
    expect(() => decodeGroupRecord(wrongStatus)).toThrow(StorageError);
    const m = encodeGroupRecord(msg);
    for (let n = 0; n < m.length; n += 5)
      expect(() => decodeGroupMessage(m.subarray(0, n))).toThrow(StorageError);
    const wrongKind = encodeCbor({ ...(decodeCbor(m) as Record<string, CborValue>), kind: 'boss' });
    expect(() => decodeGroupMessage(wrongKind)).toThrow(StorageError);
  });
});
