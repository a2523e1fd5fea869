/**
 * `parus`: the command line. Each command is a function from arguments to an exit code.
 * This module loads nothing heavy: help and usage errors print without the engine, and a
 * command's modules (commands.ts: the client, libsodium, SQLite) load only when it runs
 * (start-up time, docs/decisions/0043).
 */
import { splitGlobalOptions } from './global-options.ts';
import { chooseLang, lang, t } from './i18n.ts';

/** The whole help text, in the current language. */
export function usage(): string {
  return t('help.main', {
    relay: t('help.relay').split('\n').join('\n  '),
    group: t('help.group'),
    requests: t('help.requests'),
    devices: t('help.devices'),
  });
}

export async function main(argv: string[]): Promise<number> {
  const args = splitGlobalOptions(argv);
  if (!chooseLang(args.lang)) {
    process.stderr.write(`parus: ${t('error.badLang')}\n`);
    return 2;
  }
  const { command: name } = args;
  if (args.help || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (args.misplaced !== undefined) {
    process.stderr.write(`parus: ${t('error.misplacedOption', { option: args.misplaced })}\n`);
    return 2;
  }
  if (!name) {
    process.stdout.write(`${usage()}\n`);
    return 2;
  }
  const { COMMANDS, runCommand } = await import('./commands.ts');
  if (!Object.prototype.hasOwnProperty.call(COMMANDS, name)) {
    process.stderr.write(`parus: ${t('error.unknownCommand', { name })}\n\n${usage()}\n`);
    return 2;
  }
  return runCommand(name, args.rest, args.json, lang());
}
