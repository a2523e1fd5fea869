/** The commands by name, and running one (main.ts loads this only when a command runs). */
import {
  acceptCommand,
  contactsCommand,
  initCommand,
  inviteCommand,
  relayAddCommand,
  verifyCommand,
} from './commands/account.ts';
import { searchCommand } from './commands/search.ts';
import { chatCommand } from './commands/chat.ts';
import { backupCommand, deviceCommand, devicesCommand } from './commands/devices.ts';
import { groupCommand } from './commands/group.ts';
import {
  downloadCommand,
  historyCommand,
  readCommand,
  sendCommand,
  sendFileCommand,
  unsendCommand,
  deleteCommand,
} from './commands/messages.ts';
import { relayCommand } from './commands/relay.ts';
import { passphraseCommand } from './commands/passphrase.ts';
import { profileCommand } from './commands/profile.ts';
import { requestsCommand } from './commands/room.ts';
import { setLang, type Lang } from './i18n.ts';
import { makeOutput, reportError, type Output } from './output.ts';

type Command = (argv: string[], makeOut: (json: boolean) => Output) => Promise<number>;

export const COMMANDS: Record<string, Command> = {
  // `parus relay add` is an account command (decision 0037); the rest runs a relay.
  relay: (argv, makeOut) =>
    argv[0] === 'add' ? relayAddCommand(argv.slice(1), makeOut) : relayCommand(argv, makeOut),
  init: initCommand,
  invite: inviteCommand,
  accept: acceptCommand,
  add: acceptCommand,
  contacts: contactsCommand,
  verify: verifyCommand,
  send: sendCommand,
  'send-file': sendFileCommand,
  unsend: unsendCommand,
  delete: deleteCommand,
  download: downloadCommand,
  read: readCommand,
  history: historyCommand,
  search: searchCommand,
  chat: chatCommand,
  group: groupCommand,
  requests: requestsCommand,
  devices: devicesCommand,
  device: deviceCommand,
  backup: backupCommand,
  passphrase: passphraseCommand,
  profile: profileCommand,
};

/**
 * Runs the command `name` with its arguments (global options already put back among them), in
 * `lang`: set here too, as the bundled commands (dist/commands.cjs) have their own i18n module.
 */
export async function runCommand(name: string, argv: string[], json: boolean, lang: Lang): Promise<number> {
  setLang(lang);
  try {
    return await COMMANDS[name]!(argv, (j) => makeOutput(j));
  } catch (error) {
    return reportError(error, json);
  }
}
