// Child process of relay-bundle.js: bundles the module named by argv[2] and the workspace
// (@parus/*) TypeScript it imports into one CommonJS script, written to stdout. Packages from
// node_modules are left to require(). Nothing is written to disk.
import { dirname } from 'node:path';
import { build } from 'esbuild';

const entry = process.argv[2];
const external = {
  name: 'node-modules-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@parus/') ? undefined : { path: args.path, external: true },
    );
  },
};
const result = await build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  write: false,
  plugins: [external],
  logLevel: 'error',
  // The one use of import.meta (commands/relay.ts, to find the built web client).
  define: { 'import.meta.dirname': JSON.stringify(`${dirname(entry)}/commands`) },
});
process.stdout.write(result.outputFiles[0].text);
