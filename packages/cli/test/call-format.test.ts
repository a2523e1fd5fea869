// How call-log entries (decision 0046) read in `parus read` and `parus history`.
import { describe, expect, it } from 'vitest';
import type { MessageInfo } from '@parus/client';
import { formatMessage } from '../src/format.ts';

const log: MessageInfo = {
  id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90',
  alias: 'Bob',
  dir: 'in',
  kind: 'call-log',
  text: '',
  ts: Date.UTC(2026, 0, 2, 3, 4),
  lamport: 3,
  status: 'received',
  call: { video: false, outcome: 'missed' },
};

describe('call-log lines', () => {
  it('a missed call from a contact, an answered call with its duration, the other outcomes', () => {
    expect(formatMessage(log)).toMatch(/Bob: missed voice call from Bob \(未接來電\)/);
    expect(formatMessage({ ...log, call: { video: true, outcome: 'answered', secs: 192 } })).toMatch(
      /\[video call 3:12 通話時間\]/,
    );
    expect(formatMessage({ ...log, dir: 'out', status: 'delivered' })).toMatch(
      /voice call, no answer \(對方未接聽\)/,
    );
    expect(formatMessage({ ...log, call: { video: false, outcome: 'declined' } })).toMatch(/declined/);
    expect(formatMessage({ ...log, call: { video: false, outcome: 'busy' } })).toMatch(/busy/);
    expect(formatMessage({ ...log, call: { video: false, outcome: 'failed' } })).toMatch(/failed/);
  });

  it('a voice message shows its length; the file is saved as any file', () => {
    const { call: _call, ...rest } = log;
    const voice: MessageInfo = {
      ...rest,
      kind: 'file',
      file: {
        name: '語音訊息.ogg',
        mime: 'audio/ogg',
        size: 9216,
        expires: 1,
        voice: { ms: 3200, wave: new Uint8Array(48) },
      },
    };
    expect(formatMessage(voice)).toMatch(/\[voice message 0:03, 語音訊息\.ogg, 9\.0 KB\]/);
  });

  it('a group call log line names the group, the kind and how long it lasted (群組通話)', () => {
    const g: MessageInfo = { ...log, group: 'ab'.repeat(16), alias: '週末爬山', from: 'Bob' };
    expect(formatMessage({ ...g, call: { video: false, outcome: 'answered', secs: 754 } })).toMatch(
      /週末爬山 \| \[group voice call 12:34 群組通話\]/,
    );
    expect(formatMessage({ ...g, call: { video: true, outcome: 'missed' } })).toMatch(
      /\[group video call, nobody joined\]/,
    );
  });
});
