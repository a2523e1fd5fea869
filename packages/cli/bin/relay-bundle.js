// `parus relay` without tsx (docs/decisions/0035). tsx compiles TypeScript in the process
// that runs it, with a loader thread and esbuild's worker of its own: about 40 MB of a
// relay's resident set at rest. Here esbuild, in a short-lived child process, bundles
// src/relay-main.ts and the workspace sources it imports (core, relay) into one CommonJS
// script, which this process then runs; the packages from node_modules stay outside the
// bundle and load as usual. Built anew at every start from the sources, so it is never stale.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { runInThisContext } from 'node:vm';

const ENTRY = join(import.meta.dirname, '../src/relay-main.ts');
const BUILDER = join(import.meta.dirname, 'relay-bundle-build.js');

/** Runs `parus relay ARGV` from a fresh bundle; resolves to the exit code. */
export async function runRelay(argv) {
  const code = execFileSync(process.execPath, [BUILDER, ENTRY], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const module = { exports: {} };
  const wrapper = runInThisContext(
    `(function (exports, require, module, __filename, __dirname) {${code}\n})`,
    { filename: ENTRY },
  );
  wrapper(module.exports, createRequire(ENTRY), module, ENTRY, dirname(ENTRY));
  return module.exports.relayMain(argv);
}
