/**
 * The options every command takes, accepted before or after the command's name
 * (`parus --home DIR send …` as well as `parus send … --home DIR`). Kept free of other
 * imports: main.ts reads them before it loads any command (start-up time, decision 0043).
 */

/** Global options that take a value: `--home DIR`, `--lang en|zh-TW`. */
export const GLOBAL_VALUE_OPTIONS = ['home', 'lang'] as const;
/** Global options without a value. */
export const GLOBAL_FLAGS = ['json', 'help'] as const;

export interface GlobalArgs {
  /** The command's name: the first argument that is not a global option. */
  command: string | undefined;
  /**
   * The command's own arguments, with `--home` and `--json` put back (before a `--`, if any)
   * so the command's parser reads them as before.
   */
  rest: string[];
  home: string | undefined;
  lang: string | undefined;
  json: boolean;
  help: boolean;
  /** An option given before the command that is not a global one (`parus --port 1 relay`). */
  misplaced: string | undefined;
}

export function splitGlobalOptions(argv: readonly string[]): GlobalArgs {
  const r: GlobalArgs = {
    command: undefined,
    rest: [],
    home: undefined,
    lang: undefined,
    json: false,
    help: false,
    misplaced: undefined,
  };
  let tail: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      tail = argv.slice(i);
      break;
    }
    const eq = a.indexOf('=');
    const name = a.startsWith('--') ? a.slice(2, eq > 0 ? eq : undefined) : '';
    if ((GLOBAL_VALUE_OPTIONS as readonly string[]).includes(name)) {
      const value = eq > 0 ? a.slice(eq + 1) : argv[i + 1];
      // A missing value is left to the command's parser, which says so.
      if (value === undefined) {
        r.rest.push(a);
        continue;
      }
      if (eq < 0) i++;
      if (name === 'home') r.home = value;
      else r.lang = value;
      continue;
    }
    if (a === '--json') r.json = true;
    else if (a === '--help' || a === '-h') r.help = true;
    else if (r.command === undefined && !a.startsWith('-')) r.command = a;
    else {
      if (r.command === undefined) r.misplaced ??= a;
      r.rest.push(a);
    }
  }
  if (r.home !== undefined) r.rest.push('--home', r.home);
  if (r.json) r.rest.push('--json');
  r.rest.push(...tail);
  return r;
}
