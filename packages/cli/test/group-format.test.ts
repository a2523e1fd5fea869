// How group messages marked late, confirmed or shared as history read in `parus history`.
import { describe, expect, it } from 'vitest';
import type { MessageInfo } from '@parus/client';
import { formatMessage } from '../src/format.ts';

const base: MessageInfo = {
  id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90',
  alias: 'Birds',
  group: '0123456789abcdef0123456789abcdef',
  from: 'Mei',
  dir: 'in',
  kind: 'text',
  text: 'heron!',
  ts: Date.UTC(2026, 0, 2, 3, 4),
  lamport: 3,
  status: 'received',
};

describe('group message lines', () => {
  it('mark a late message with its confirmations and the command that confirms it', () => {
    const line = formatMessage({ ...base, late: true, confirmations: 1, confirmationsNeeded: 2 });
    expect(line).toContain('Mei: heron!');
    expect(line).toContain('arrived late, 1/2 confirmations');
    expect(line).toContain('parus group confirm 0123456789abcdef0123456789abcdef a1b2c3d4e5f6');
  });

  it('mark a confirmed late message, and a message shared as earlier history', () => {
    expect(formatMessage({ ...base, confirmed: true, confirmations: 2 })).toMatch(
      /heron! \(arrived late, confirmed by 2\)$/,
    );
    expect(formatMessage({ ...base, history: true })).toMatch(/heron! \(earlier history\)$/);
    expect(formatMessage(base)).toMatch(/heron!$/);
  });

  it('show a file, a sticker and an unsent message as 1:1 lines do, a file with its id for download', () => {
    const file = { name: '合照.jpg', mime: 'image/jpeg', size: 2048, expires: 0 };
    const line = formatMessage({ ...base, kind: 'file', text: '', file });
    expect(line).toContain('Mei: [file 合照.jpg');
    expect(line).toMatch(/#a1b2c3d4e5f6$/);
    expect(
      formatMessage({ ...base, kind: 'sticker', text: '', sticker: { pack: 'parus', id: 'hello' } }),
    ).toContain('parus/hello');
    expect(formatMessage({ ...base, text: '', unsent: true })).not.toContain('#a1b2');
  });
});
