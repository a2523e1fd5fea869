// `parus relay --limit NAME=VALUE`: the relay's limits from the command line (docs/decisions/0023).
import { UsageError } from '@parus/core';
import { describe, expect, it } from 'vitest';
import { parseLimits } from '../src/commands/relay.ts';

describe('parus relay --limit', () => {
  it('takes NAME=VALUE pairs of relay limits', () => {
    expect(parseLimits([])).toEqual({});
    expect(parseLimits(['maxStoredBytes=50e9', 'maxConnectionsPerAddress=256'])).toEqual({
      maxStoredBytes: 50e9,
      maxConnectionsPerAddress: 256,
    });
  });

  it('refuses an unknown name, a missing or non-positive value (UsageError)', () => {
    for (const bad of [
      'nope=1',
      'maxStoredBytes',
      'maxStoredBytes=',
      'maxStoredBytes=0',
      'maxStoredBytes=-5',
      'maxStoredBytes=ten',
      '=5',
      'toString=1',
    ])
      expect(() => parseLimits([bad]), bad).toThrow(UsageError);
  });
});
