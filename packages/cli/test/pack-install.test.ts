// `npm run pack -w @parus/cli` makes a tarball that `npm install -g` installs with no registry
// and no compiler (--offline --ignore-scripts: it carries its dependencies, native builds
// included; docs/decisions/0043), and the installed `parus` runs a relay, creates an account
// and prints help, from the bundle alone (the tarball has no TypeScript sources and no tsx).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';

const PACKAGE = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'parus-pack-install-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      file,
      args,
      { cwd: dir, env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: '', ...env }, timeout: 400_000 },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the packed CLI', () => {
  it('installs with npm install -g --offline and runs parus --help, relay and init', async () => {
    const packed = await run(process.execPath, [join(PACKAGE, 'scripts/pack.js'), dir]);
    expect(packed.code, packed.stderr).toBe(0);
    const tarball = packed.stdout.trim();
    expect(tarball).toMatch(/parus-cli-.*\.tgz$/);
    const prefix = join(dir, 'prefix');
    const installed = await run('npm', [
      'install',
      '--global',
      '--prefix',
      prefix,
      '--offline',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      tarball,
    ]);
    expect(installed.code, installed.stderr).toBe(0);
    const bin = join(prefix, 'bin/parus');
    const pkg = join(prefix, 'lib/node_modules/@parus/cli');
    expect(existsSync(join(pkg, 'src'))).toBe(false);
    expect(existsSync(join(pkg, 'node_modules/tsx'))).toBe(false);

    const help = await run(bin, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: parus');
    expect((await run(bin, ['--help'], { LANG: 'zh_TW.UTF-8' })).stdout).toContain('用法：parus');

    const relay = spawn(bin, ['relay', '--port', '0', '--data', join(dir, 'relay'), '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const address = await new Promise<string>((ready, fail) => {
        createInterface({ input: relay.stdout! }).once('line', (line) =>
          ready((JSON.parse(line) as { address: string }).address),
        );
        relay.once('exit', (code) => fail(new Error(`relay exited with ${code}`)));
      });
      const init = await run(
        bin,
        ['--home', join(dir, 'alice'), '--json', 'init', '--name', 'Alice', '--relay', address],
        {
          PARUS_PASSPHRASE: 'alice passphrase 42',
          PARUS_INSECURE_TEST_KDF: '1',
        },
      );
      expect(init.code, init.stderr).toBe(0);
      expect(JSON.parse(init.stdout.trim())).toMatchObject({ name: 'Alice', relay: address });
    } finally {
      // A relay that already exited (it failed to start) has no 'exit' left to wait for.
      if (relay.exitCode === null && relay.signalCode === null) {
        const exited = new Promise((done) => relay.once('exit', done));
        relay.kill('SIGTERM');
        await exited;
      }
    }
  }, 600_000);
});
