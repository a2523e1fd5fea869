// Builds the bundles every `parus` command runs from (docs/decisions/0043): esbuild bundles
// src/main.ts and src/commands.ts (every command) and src/relay-main.ts (`parus relay` alone, without the client:
// decision 0035) with the workspace sources they import (@parus/core, client, relay) into two
// CommonJS scripts in dist/. Packages from node_modules stay outside (require()), so native
// modules (better-sqlite3, sodium-native) load as usual. dist/manifest.json lists every input
// with its size, mtime and SHA-256: bin/parus.js runs the bundles only while each input is
// unchanged, so a bundle never runs older code than the tree holds.
// Run: `npm run build -w @parus/cli` (npm install runs it too: the package's `prepare`).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const PACKAGE = resolve(import.meta.dirname, '..');
const DIST = join(PACKAGE, 'dist');

/** What the bundles also depend on besides the sources esbuild reads (and their packages' package.json). */
const EXTRA_INPUTS = ['scripts/build.js', 'package.json'];

/** Packages from node_modules are left to require(); the workspace's are bundled. */
const nodeModulesExternal = {
  name: 'node-modules-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@parus/') ? undefined : { path: args.path, external: true },
    );
  },
};

/** main.ts's `import('./commands.ts')` stays a require of the commands bundle beside it. */
const commandsApart = {
  name: 'commands-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/commands\.ts$/ }, (args) =>
      args.importer.endsWith(`${join('src', 'main.ts')}`)
        ? { path: './commands.cjs', external: true }
        : undefined,
    );
  },
};

function describe(path) {
  const st = statSync(join(PACKAGE, path));
  const sha256 = createHash('sha256')
    .update(readFileSync(join(PACKAGE, path)))
    .digest('hex');
  return { path, size: st.size, mtimeMs: st.mtimeMs, sha256 };
}

/** Builds dist/parus.cjs, dist/relay.cjs and dist/manifest.json; resolves to the manifest. */
export async function build() {
  const { build: esbuild } = await import('esbuild');
  const tmp = `${DIST}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  try {
    const result = await esbuild({
      absWorkingDir: PACKAGE,
      // parus.cjs (main.ts: help, language, dispatch) is small; the commands, the engine and
      // everything they load are in commands.cjs, required only when a command runs.
      entryPoints: { parus: 'src/main.ts', commands: 'src/commands.ts', relay: 'src/relay-main.ts' },
      outdir: tmp,
      outExtension: { '.js': '.cjs' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      metafile: true,
      plugins: [commandsApart, nodeModulesExternal],
      logLevel: 'error',
      legalComments: 'none',
      // The one use of import.meta (commands/relay.ts, to find the built web client of a checkout).
      define: { 'import.meta.dirname': '__parusCommandsDir' },
      banner: { js: "var __parusCommandsDir = require('node:path').join(__dirname, '../src/commands');" },
    });
    const sources = Object.keys(result.metafile.inputs).map((p) => relative(PACKAGE, resolve(PACKAGE, p)));
    // The package.json of each workspace package read from (its exports decide what resolves).
    const manifests = sources
      .map((p) => /^(.*\/)?src\//.exec(p)?.[1])
      .filter((dir) => dir !== undefined && existsSync(join(PACKAGE, dir, 'package.json')))
      .map((dir) => `${dir}package.json`);
    const inputs = [...new Set([...sources, ...manifests, ...EXTRA_INPUTS])].map(describe);
    const manifest = { built: new Date().toISOString(), inputs };
    writeFileSync(join(tmp, 'manifest.json'), `${JSON.stringify(manifest)}\n`);
    mkdirSync(DIST, { recursive: true });
    // The bundles first, the manifest last: a reader that sees the new manifest sees new bundles.
    for (const name of ['parus.cjs', 'commands.cjs', 'relay.cjs', 'manifest.json'])
      renameSync(join(tmp, name), join(DIST, name));
    return manifest;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const manifest = await build();
  process.stderr.write(
    `parus: built ${relative(process.cwd(), DIST) || '.'} from ${manifest.inputs.length} files\n`,
  );
}
