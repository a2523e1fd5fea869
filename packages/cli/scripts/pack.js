// `npm run pack -w @parus/cli -- [DEST]`: a tarball of the `parus` command that installs with
// `npm install -g --ignore-scripts ./parus-cli-0.1.0.tgz` and nothing else: no registry, no
// compiler (docs/decisions/0043). It holds the bundles (dist/: the workspace's TypeScript,
// core, client and relay, in two CommonJS scripts), bin/parus.js, and, as bundleDependencies,
// the packages the bundles require() with exactly the files this checkout installed, native
// builds included (better-sqlite3's for this platform and Node ABI; sodium-native carries
// prebuilt ones for many). A staging folder is packed, not packages/cli itself: in a
// workspace the dependencies live in the root node_modules, where `npm pack` does not look.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from './build.js';

const PACKAGE = resolve(import.meta.dirname, '..');
const ROOT = resolve(PACKAGE, '../..');

/** The lock keys (node_modules/…) of `names` and everything they depend on, as installed. */
function closure(names) {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
  /** Where node finds `name` required from the package at lock key `from`. */
  const locate = (from, name) => {
    for (let base = from; ; ) {
      const key = `${base ? `${base}/` : ''}node_modules/${name}`;
      if (lock.packages[key]) return key;
      if (!base) return undefined;
      const at = base.lastIndexOf('/node_modules/');
      base = at < 0 ? '' : base.slice(0, at);
    }
  };
  const found = new Set();
  const queue = names.map((name) => ['', name]);
  while (queue.length) {
    const [from, name] = queue.shift();
    const key = locate(from, name);
    if (!key) throw new Error(`${name} (needed by ${from || 'the CLI'}) is not in package-lock.json`);
    if (found.has(key)) continue;
    found.add(key);
    const entry = lock.packages[key];
    for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies }))
      if (locate(key, dep)) queue.push([key, dep]);
  }
  return [...found].sort();
}

/** Packs the CLI into DEST (default: the current folder); returns the tarball's path. */
export async function pack(dest = process.cwd()) {
  await build();
  const pkg = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8'));
  const tmp = mkdtempSync(join(tmpdir(), 'parus-pack-'));
  const stage = join(tmp, 'package');
  try {
    for (const file of pkg.files) {
      mkdirSync(join(stage, file, '..'), { recursive: true });
      cpSync(join(PACKAGE, file), join(stage, file));
    }
    const deps = Object.keys(pkg.dependencies);
    const staged = {
      name: pkg.name,
      version: pkg.version,
      description: pkg.description,
      license: pkg.license,
      type: pkg.type,
      engines: pkg.engines,
      bin: pkg.bin,
      files: pkg.files,
      dependencies: pkg.dependencies,
      bundleDependencies: deps,
    };
    writeFileSync(join(stage, 'package.json'), `${JSON.stringify(staged, null, 2)}\n`);
    for (const key of closure(deps)) {
      const from = join(ROOT, key);
      if (!existsSync(from)) throw new Error(`${key} is not installed: run npm install first`);
      // Build leftovers (object files) are not needed at run time.
      cpSync(from, join(stage, key), {
        recursive: true,
        filter: (src) => !/[/\\]build[/\\]Release[/\\](obj|obj\.target|\.deps)([/\\]|$)/.test(src),
      });
    }
    mkdirSync(dest, { recursive: true });
    // Packed with tar rather than `npm pack`: npm pack applies each bundled package's own
    // "files" list, which leaves out better-sqlite3's native build. The layout is npm's
    // (everything under package/), so npm installs it as it installs any package tarball.
    const name = `${pkg.name.replace(/^@/, '').replace('/', '-')}-${pkg.version}.tgz`;
    execFileSync('tar', ['-czf', join(resolve(dest), name), '--owner=0', '--group=0', '-C', tmp, 'package']);
    return join(resolve(dest), name);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${await pack(process.argv[2])}\n`);
}
