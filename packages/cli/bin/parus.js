#!/usr/bin/env node
// The `parus` command (docs/decisions/0043). Every command runs from a bundle in dist/, built
// by `npm install` (the package's `prepare`) or `npm run build`: dist/parus.cjs (help and
// dispatch; it loads dist/commands.cjs, the commands and the engine, only to run one), and for
// `parus relay` itself dist/relay.cjs, which carries neither the client nor tsx (decision 0035).
// In a checkout the bundle runs only while every source it was built from is unchanged
// (dist/manifest.json: size, mtime, else SHA-256); otherwise it is rebuilt first, and if that
// cannot be done the sources run through tsx. An installed package (no src/) runs its bundle.
// PARUS_FROM_SOURCES=1 runs the sources through tsx (development, comparisons).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const PACKAGE = join(import.meta.dirname, '..');
const DIST = join(PACKAGE, 'dist');

/** `parus relay` with options only (no subcommand such as `relay add`), global options anywhere. */
function runsRelay(args) {
  const words = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') break;
    if (a === '--help' || a === '-h') return false;
    if (a === '--home' || a === '--lang') i++;
    else if (!a.startsWith('--home=') && !a.startsWith('--lang=') && a !== '--json') words.push(a);
  }
  return words[0] === 'relay' && (words[1] === undefined || words[1].startsWith('-'));
}

/** Whether dist/ holds bundles built from the sources as they are now. */
function bundleIsCurrent() {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(DIST, 'manifest.json'), 'utf8'));
  } catch {
    return false;
  }
  if (!existsSync(join(PACKAGE, 'src'))) return true; // an installed package: no sources to differ from
  for (const input of manifest.inputs) {
    const path = join(PACKAGE, input.path);
    let st;
    try {
      st = statSync(path);
    } catch {
      return false;
    }
    if (st.size !== input.size) return false;
    if (st.mtimeMs !== input.mtimeMs && sha256(path) !== input.sha256) return false;
  }
  return true;
}

function sha256(path) {
  const { createHash } = createRequire(import.meta.url)('node:crypto');
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

async function currentBundle() {
  if (process.env.PARUS_FROM_SOURCES === '1') return false;
  if (bundleIsCurrent()) return true;
  try {
    if (process.stderr.isTTY) process.stderr.write('parus: sources changed, rebuilding the bundle…\n');
    const { build } = await import('../scripts/build.js');
    await build();
    return true;
  } catch (error) {
    process.stderr.write(`parus: cannot build the bundle (${error.message}); running the sources\n`);
    return false;
  }
}

if (runsRelay(argv)) {
  // Before the bundle is loaded and compiled, which would grow V8's young generation for good
  // (packages/relay/src/process-tuning.ts; relay-main.ts sets it again for the other paths).
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--semi-space-growth-factor=1');
}

if (await currentBundle()) {
  const require = createRequire(import.meta.url);
  process.exitCode = runsRelay(argv)
    ? await require(join(DIST, 'relay.cjs')).relayMain(argv)
    : await require(join(DIST, 'parus.cjs')).main(argv);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/main.ts');
  process.exitCode = await main(argv);
}
