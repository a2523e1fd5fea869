// The bundle every `parus` command runs from (docs/decisions/0043) never runs older code than
// the tree holds: on a copy of the package (bin, scripts, src) the first command builds dist/,
// a bundle whose sources are unchanged runs, one whose sources changed is rebuilt first, and
// PARUS_FROM_SOURCES=1 runs the sources through tsx. The copy lives in packages/cli/.parus/
// (ignored by git) so that it resolves @parus/* and esbuild from the workspace's node_modules.
import { execFile } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PACKAGE = resolve(import.meta.dirname, '..');
const parent = join(PACKAGE, '.parus');
let copy = '';

function parus(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(copy, 'bin/parus.js'), ...args],
      {
        env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: '', PARUS_FROM_SOURCES: '', ...env },
        timeout: 120_000,
      },
      (error, stdout) => done({ code: error ? Number(error.code ?? 1) : 0, stdout }),
    );
  });
}

/** Puts a bundle in dist/ that is not built from the sources: what runs tells which ran. */
function plantOldBundle(): void {
  writeFileSync(
    join(copy, 'dist/parus.cjs'),
    "exports.main = async () => { process.stdout.write('OLD BUNDLE\\n'); return 0; };\n",
  );
}

beforeAll(() => {
  mkdirSync(parent, { recursive: true });
  copy = mkdtempSync(join(parent, 'bundle-test-'));
  for (const part of ['bin', 'scripts', 'src', 'package.json'])
    cpSync(join(PACKAGE, part), join(copy, part), { recursive: true });
});
afterAll(() => rmSync(copy, { recursive: true, force: true }));

describe('the bundle', () => {
  it('is built by the first command when there is none, then runs', async () => {
    expect(existsSync(join(copy, 'dist'))).toBe(false);
    const r = await parus(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: parus');
    const manifest = JSON.parse(readFileSync(join(copy, 'dist/manifest.json'), 'utf8')) as {
      inputs: { path: string }[];
    };
    expect(manifest.inputs.map((i) => i.path)).toEqual(
      expect.arrayContaining(['src/main.ts', '../../../core/src/index.ts', '../../../core/package.json']),
    );
  }, 180_000);

  it('runs while its sources are unchanged, a touched file included, and is rebuilt when one changes', async () => {
    plantOldBundle();
    expect((await parus(['--help'])).stdout).toBe('OLD BUNDLE\n');
    // Touched, same bytes (a checkout, a copy): still the bundle's sources.
    const source = join(copy, 'src/i18n.ts');
    const later = new Date(statSync(source).mtimeMs + 5_000);
    utimesSync(source, later, later);
    expect((await parus(['--help'])).stdout).toBe('OLD BUNDLE\n');
    // Changed: the bundle is rebuilt from the sources before anything runs.
    appendFileSync(source, '\n// changed\n');
    const r = await parus(['--help']);
    expect(r.stdout).toContain('Usage: parus');
    expect(readFileSync(join(copy, 'dist/parus.cjs'), 'utf8')).not.toContain('OLD BUNDLE');
    // A change in a workspace package the bundle includes counts too (core, through its sources).
    plantOldBundle();
    const manifest = JSON.parse(readFileSync(join(copy, 'dist/manifest.json'), 'utf8')) as {
      inputs: { path: string; sha256: string; mtimeMs: number }[];
    };
    const core = manifest.inputs.find((i) => i.path === '../../../core/src/index.ts')!;
    core.sha256 = '0'.repeat(64); // as if core/src/index.ts had other bytes when it was built
    core.mtimeMs -= 1;
    writeFileSync(join(copy, 'dist/manifest.json'), JSON.stringify(manifest));
    expect((await parus(['--help'])).stdout).toContain('Usage: parus');
  }, 180_000);

  it('is not used with PARUS_FROM_SOURCES=1: the sources run through tsx', async () => {
    plantOldBundle();
    // Marked current, so that only the variable keeps the planted bundle from running.
    expect((await parus(['--help'])).stdout).toBe('OLD BUNDLE\n');
    const r = await parus(['--help'], { PARUS_FROM_SOURCES: '1' });
    expect(r.stdout).toContain('Usage: parus');
  }, 180_000);
});
