// How a sent message's delivery state reads in `parus read` and `parus history`.
import { describe, expect, it } from 'vitest';
import type { MessageInfo } from '@parus/client';
import { formatMessage } from '../src/format.ts';

const sent: MessageInfo = {
  id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90',
  alias: 'bob',
  dir: 'out',
  kind: 'text',
  text: 'anyone there?',
  ts: Date.UTC(2026, 0, 2, 3, 4),
  lamport: 3,
  status: 'sent',
};

describe('delivery marks', () => {
  it('say plainly when a message was given up without a receipt (decision 0025)', () => {
    expect(formatMessage(sent)).toMatch(/anyone there\? ✓ /);
    expect(formatMessage({ ...sent, status: 'failed' })).toMatch(/anyone there\? ✗ not delivered /);
    expect(formatMessage({ ...sent, status: 'delivered' })).toMatch(/✓✓ /);
  });
});
