/**
 * `parus relay` on its own: what bin/parus.js runs, from dist/relay.cjs, a bundle of this
 * module without the client (docs/decisions/0035, 0043). The same command as `parus relay`
 * through main.ts; `argv` is the whole command line (global options anywhere).
 */
import { tuneRelayProcess } from '@parus/relay';
import { relayCommand } from './commands/relay.ts';
import { splitGlobalOptions } from './global-options.ts';
import { chooseLang } from './i18n.ts';
import { makeOutput, reportError } from './output.ts';

export async function relayMain(argv: string[]): Promise<number> {
  // This process is the relay: its young generation stays small (relay/src/process-tuning.ts).
  tuneRelayProcess();
  const args = splitGlobalOptions(argv);
  chooseLang(args.lang);
  try {
    return await relayCommand(args.rest, (json) => makeOutput(json));
  } catch (error) {
    return reportError(error, args.json);
  }
}
