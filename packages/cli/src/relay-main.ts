/**
 * `parus relay` on its own: what bin/parus.js runs, from a bundle of this module built at
 * start (bin/relay-bundle.js), so that a relay process carries neither tsx nor the client
 * (docs/decisions/0035). The same command as `parus relay` through main.ts.
 */
import { tuneRelayProcess } from '@parus/relay';
import { relayCommand } from './commands/relay.ts';
import { makeOutput, reportError } from './output.ts';

export async function relayMain(argv: string[]): Promise<number> {
  // This process is the relay: its young generation stays small (relay/src/process-tuning.ts).
  tuneRelayProcess();
  try {
    return await relayCommand(argv, (json) => makeOutput(json));
  } catch (error) {
    return reportError(error, argv.includes('--json'));
  }
}
