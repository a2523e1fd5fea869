/** Known answer for BLAKE2b from RFC 7693 Appendix A, through `hash(data, 64)`. */
import { beforeAll, describe, expect, it } from 'vitest';
import { hash, initCrypto, toHex, UsageError, utf8 } from '../src/index.ts';

describe('BLAKE2b, RFC 7693', () => {
  beforeAll(async () => {
    await initCrypto();
  });

  it('Appendix A: BLAKE2b-512("abc")', () => {
    // RFC 7693 Appendix A, "Example of BLAKE2b Computation".
    expect(toHex(hash(utf8('abc'), 64))).toBe(
      'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1' +
        '7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923',
    );
  });

  it('refuses output lengths outside 16..64 with UsageError', () => {
    expect(() => hash(utf8('abc'), 15)).toThrow(UsageError);
    expect(() => hash(utf8('abc'), 65)).toThrow(UsageError);
    expect(hash(utf8('abc'), 16).length).toBe(16);
  });
});
