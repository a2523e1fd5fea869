import { describe, expect, it } from 'vitest';
import { UsageError, systemRandom, toHex } from '../src/index.ts';

describe('systemRandom', () => {
  it('returns the asked length, including more than one Web Crypto call can fill', () => {
    for (const n of [0, 1, 24, 65536, 65537, 200_000]) expect(systemRandom.bytes(n)).toHaveLength(n);
  });

  it('does not repeat itself and fills the whole buffer', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(toHex(systemRandom.bytes(16)));
    expect(seen.size).toBe(1000);
    const big = systemRandom.bytes(200_000);
    // The tail beyond the first 64 KiB chunk is filled too (not left as zeros).
    expect(big.subarray(150_000).some((b) => b !== 0)).toBe(true);
  });

  it('rejects a negative or fractional length', () => {
    expect(() => systemRandom.bytes(-1)).toThrow(UsageError);
    expect(() => systemRandom.bytes(1.5)).toThrow(UsageError);
  });
});
