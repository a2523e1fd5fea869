import { beforeAll, describe, expect, it } from 'vitest';
import {
  BACKUP_MAGIC,
  MAX_BACKUP_COST,
  openAccountBackup,
  readBackupHeader,
  sealAccountBackup,
} from '../src/account-backup.ts';
import { concatBytes, fromHex, toHex, u32be, utf8 } from '../src/bytes.ts';
import { encodeCbor } from '../src/cbor.ts';
import { initCrypto } from '../src/crypto.ts';
import { DecodeError, UsageError, VerificationError } from '../src/errors.ts';
import { scriptedRandom, seededInts } from './contact-test-helpers.ts';
import frozen from './vectors/account-backup.json' with { type: 'json' };

/** libsodium's least Argon2id cost: these tests are about the format, not the cost. */
const LIGHT = { opsLimit: 1, memLimit: 8192 };
const PASS = '正確的 horse battery';

beforeAll(async () => {
  await initCrypto();
});

function sealed(payload: Uint8Array, chunkBytes = 64): Uint8Array {
  return sealAccountBackup({
    passphrase: PASS,
    payload,
    rng: scriptedRandom('backup'),
    cost: LIGHT,
    chunkBytes,
  });
}

describe('account backup', () => {
  it('matches the frozen vector (never regenerate it)', () => {
    const bytes = sealed(utf8('an account snapshot, frozen'), 16);
    expect(toHex(bytes)).toBe(frozen.backup);
    expect(new TextDecoder().decode(openAccountBackup(fromHex(frozen.backup), PASS))).toBe(
      'an account snapshot, frozen',
    );
  });

  it('round-trips payloads of 0, 1, one chunk and many chunks; the header says its cost', () => {
    const rng = scriptedRandom('payloads');
    for (const n of [0, 1, 64, 65, 1000]) {
      const payload = rng.bytes(n);
      expect(toHex(openAccountBackup(sealed(payload), PASS))).toBe(toHex(payload));
    }
    const header = readBackupHeader(sealed(new Uint8Array(3)));
    expect(header.cost).toEqual(LIGHT);
    expect(header.chunkBytes).toBe(64);
  });

  it('refuses a wrong passphrase with VerificationError', () => {
    const bytes = sealed(utf8('secret contacts'));
    expect(() => openAccountBackup(bytes, 'wrong horse battery')).toThrow(VerificationError);
    expect(() => openAccountBackup(bytes, '')).toThrow(UsageError);
  });

  it('refuses every single-byte change with DecodeError or VerificationError', () => {
    const bytes = sealed(scriptedRandom('p').bytes(200));
    const next = seededInts(30);
    for (let i = 0; i < 150; i++) {
      const mutated = bytes.slice();
      mutated[next(bytes.length)]! ^= 1 + next(255);
      let error: unknown;
      try {
        openAccountBackup(mutated, PASS);
      } catch (e) {
        error = e;
      }
      expect(error instanceof DecodeError || error instanceof VerificationError, String(error)).toBe(true);
    }
  });

  it('refuses a backup cut short or extended (at chunk boundaries too)', () => {
    const bytes = sealed(scriptedRandom('p').bytes(200));
    for (let n = 0; n < bytes.length; n++) {
      expect(() => openAccountBackup(bytes.subarray(0, n), PASS)).toThrow(/./);
      let error: unknown;
      try {
        openAccountBackup(bytes.subarray(0, n), PASS);
      } catch (e) {
        error = e;
      }
      expect(error instanceof DecodeError || error instanceof VerificationError).toBe(true);
    }
    const extra = sealed(utf8('x'));
    const first = sealed(scriptedRandom('p').bytes(200));
    // The chunks of another backup appended: they do not authenticate in this stream.
    expect(() => openAccountBackup(concatBytes(first, extra.subarray(extra.length - 22)), PASS)).toThrow(
      VerificationError,
    );
  });

  it('refuses a header asking for too much (cost, chunk size) before deriving anything', () => {
    const bytes = sealed(utf8('x'));
    const header = (m: Record<string, unknown>): Uint8Array => {
      const h = encodeCbor({
        v: 1,
        salt: new Uint8Array(16),
        ops: 1,
        mem: 8192,
        h: new Uint8Array(24),
        chunk: 64,
        ...m,
      } as never);
      return concatBytes(BACKUP_MAGIC, u32be(h.length), h, bytes.subarray(8 + 4 + readLen(bytes)));
    };
    expect(() => openAccountBackup(header({ mem: MAX_BACKUP_COST.memLimit * 2 }), PASS)).toThrow(DecodeError);
    expect(() => openAccountBackup(header({ ops: 1000 }), PASS)).toThrow(DecodeError);
    expect(() => openAccountBackup(header({ chunk: 1 << 30 }), PASS)).toThrow(DecodeError);
    expect(() => openAccountBackup(header({ extra: 1 }), PASS)).toThrow(DecodeError);
    expect(() => openAccountBackup(header({ v: 2 }), PASS)).toThrow(DecodeError);
    // A lower cost than the file was made with: the header is in the key, so it does not open.
    expect(() => openAccountBackup(header({}), PASS)).toThrow(VerificationError);
    expect(() => openAccountBackup(utf8('PARUSBAX' + 'x'.repeat(40)), PASS)).toThrow(DecodeError);
    expect(() => openAccountBackup(bytes, PASS, { maxBytes: 0 })).toThrow(DecodeError);
    expect(() => openAccountBackup(bytes, PASS, { maxCost: { opsLimit: 1, memLimit: 4096 } })).toThrow(
      DecodeError,
    );
  });
});

function readLen(bytes: Uint8Array): number {
  return (bytes[8]! << 24) | (bytes[9]! << 16) | (bytes[10]! << 8) | bytes[11]!;
}
