#!/usr/bin/env node
// The `parus` command. TypeScript sources run through tsx's loader (no build step), except
// `parus relay` itself (options only, no subcommand such as `relay add`), which runs from a
// bundle made at start, without tsx (docs/decisions/0035).
const argv = process.argv.slice(2);
const runsRelay = argv[0] === 'relay' && (argv[1] === undefined || argv[1].startsWith('-'));
if (runsRelay && !argv.includes('--help') && !argv.includes('-h')) {
  // Before the bundle is made and compiled, which would grow V8's young generation for good
  // (packages/relay/src/process-tuning.ts; relay-main.ts sets it again for the other paths).
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--semi-space-growth-factor=1');
  const { runRelay } = await import('./relay-bundle.js');
  process.exitCode = await runRelay(argv.slice(1));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/main.ts');
  process.exitCode = await main(argv);
}
