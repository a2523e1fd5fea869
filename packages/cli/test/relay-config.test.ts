// `parus relay --config FILE`: the relay's settings (store, key secret, bus, …) from a JSON file,
// under the command line's (issue 17, decision 0049).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '@parus/core';
import { afterAll, describe, expect, it } from 'vitest';
import { readRelayConfig, relayCommand } from '../src/commands/relay.ts';
import { makeOutput } from '../src/output.ts';

const dir = mkdtempSync(join(tmpdir(), 'parus-relay-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (content: string): string => {
  const path = join(dir, `config-${++n}.json`);
  writeFileSync(path, content);
  return path;
};

describe('parus relay --config', () => {
  it('reads the flags of the same names; file paths relative to the file', () => {
    const path = file(
      JSON.stringify({
        store: 'postgres://parus@127.0.0.1:5432/parus',
        'key-secret': 'secret',
        bus: 'redis://127.0.0.1:6379',
        port: 7401,
        data: '/srv/parus',
      }),
    );
    expect(readRelayConfig(path)).toEqual({
      store: 'postgres://parus@127.0.0.1:5432/parus',
      'key-secret': join(dir, 'secret'),
      bus: 'redis://127.0.0.1:6379',
      port: '7401',
      data: '/srv/parus',
    });
  });

  it('refuses what is not such a file with UsageError', () => {
    for (const bad of [
      'not json',
      '[]',
      'null',
      '{"nope": "x"}',
      '{"bus": 5}',
      '{"store": ["a"]}',
      '{"toString": "x"}',
    ])
      expect(() => readRelayConfig(file(bad)), bad).toThrow(UsageError);
    expect(() => readRelayConfig(join(dir, 'absent.json'))).toThrow(UsageError);
    expect(() => readRelayConfig(file(`{"note": "${'x'.repeat(70_000)}"}`))).toThrow(UsageError);
  });

  it('a bus from the config file without a shared store: the relay refuses to start (UsageError)', async () => {
    const path = file(JSON.stringify({ bus: 'redis://127.0.0.1:6379', data: join(dir, 'relay') }));
    await expect(
      relayCommand(['--config', path, '--port', '0'], (json) => makeOutput(json)),
    ).rejects.toBeInstanceOf(UsageError);
  });
});
