/**
 * The server under test as an operator runs it: bench/server-process.ts and the workspace
 * sources it imports (@parus/relay, @parus/core) bundled by esbuild with the options of the
 * CLI's bundles (packages/cli/scripts/build.js, decisions 0035 and 0043: CommonJS for Node 20,
 * packages from node_modules left to require()), run by plain `node`. The sources through tsx
 * differ: its `keepNames` wraps every closure made per call (`__name`), and the first calls pay
 * for the compile (decision 0051).
 *
 * Built once per bench process into node_modules/.cache/parus-bench/ (inside the checkout, so
 * that the bundle's require() finds node_modules). PARUS_BENCH_SOURCES=1 runs the sources
 * through tsx instead, to measure the difference; so does a profiled run (cpu-profile.ts
 * attributes each sample by its source file, which a bundle no longer names).
 */
import { mkdirSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE = fileURLToPath(new URL('./server-process.ts', import.meta.url));
const OUT_DIR = fileURLToPath(new URL('../node_modules/.cache/parus-bench/', import.meta.url));

export interface ServerScript {
  script: string;
  /** Node's options for it (the bench's own, without tsx for the bundle). */
  execArgv: string[];
  /** 'bundle' or 'sources (tsx)', for the report. */
  kind: string;
}

let built: Promise<string> | undefined;

async function buildBundle(): Promise<string> {
  const { build } = await import('esbuild');
  mkdirSync(OUT_DIR, { recursive: true });
  const outfile = `${OUT_DIR}server-process.cjs`;
  // Written beside it, then renamed: another bench of this checkout never forks half a file.
  const tmp = `${outfile}.${process.pid}.tmp`;
  await build({
    absWorkingDir: ROOT,
    entryPoints: [SOURCE],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'error',
    legalComments: 'none',
    plugins: [
      {
        name: 'node-modules-external',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith('@parus/') ? undefined : { path: args.path, external: true },
          );
        },
      },
    ],
  });
  renameSync(tmp, outfile);
  return outfile;
}

/** Node's options without tsx's loader (`--import tsx`, `--require …tsx…`, `--loader tsx`). */
function withoutTsx(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if ((arg === '--import' || arg === '--require' || arg === '--loader') && argv[i + 1]?.includes('tsx')) {
      i += 1;
      continue;
    }
    if (/^--(import|require|loader)=.*tsx/.test(arg)) continue;
    out.push(arg);
  }
  return out;
}

/** The server process to fork: the bundle (built on first use), or the sources under tsx. */
export async function serverScript(opts: { sources?: boolean } = {}): Promise<ServerScript> {
  if (opts.sources || process.env.PARUS_BENCH_SOURCES === '1')
    return { script: SOURCE, execArgv: [...process.execArgv], kind: 'sources (tsx)' };
  built ??= buildBundle();
  return { script: await built, execArgv: withoutTsx(process.execArgv), kind: 'bundle' };
}
