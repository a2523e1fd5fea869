/** `parus`: the command line. Each command is a function from arguments to an exit code. */
import {
  acceptCommand,
  contactsCommand,
  initCommand,
  inviteCommand,
  relayAddCommand,
  verifyCommand,
} from './commands/account.ts';
import { chatCommand } from './commands/chat.ts';
import { DEVICES_HELP, backupCommand, deviceCommand, devicesCommand } from './commands/devices.ts';
import { GROUP_HELP, groupCommand } from './commands/group.ts';
import {
  downloadCommand,
  historyCommand,
  readCommand,
  sendCommand,
  sendFileCommand,
  unsendCommand,
} from './commands/messages.ts';
import { SEARCH_HELP, searchCommand } from './commands/search.ts';
import { RELAY_HELP, relayCommand } from './commands/relay.ts';
import { REQUESTS_HELP, requestsCommand } from './commands/room.ts';
import { makeOutput, reportError, type Output } from './output.ts';

type Command = (argv: string[], makeOut: (json: boolean) => Output) => Promise<number>;

const COMMANDS: Record<string, Command> = {
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
};

export const USAGE = `Parus — end-to-end encrypted messenger

Usage: parus <command> [options]

  ${RELAY_HELP.split('\n').join('\n  ')}
  parus init --name NAME --relay ADDRESS [--relay ADDRESS2]
                                           create an account on this device (a second
                                           relay: reachable while one of them is down)
  parus invite [--reusable [--reset]] [--long] [--qr FILE.png|.svg] [--out FILE]
                                           make a rendez-vous card (short link + QR
                                           code; --long: the card itself, offline;
                                           --reusable: my QR code, --reset: a new one)
  parus accept|add LINK|FILE --alias ALIAS answer a friend's card (short or long link)
  parus contacts                           list contacts and their states
  parus verify ALIAS [--confirm|--compromised|--reset] [--qr FILE]
                                           show the safety number, set the state
  parus send ALIAS TEXT [--me] [--reply ID] send a message (--me: an action, as /me)
  parus send ALIAS --sticker ID [--pack P] send a sticker (set 'parus' unless --pack)
  parus send-file ALIAS PATH [--name N] [--mime TYPE]
                                           send a file, end-to-end encrypted
  parus unsend ALIAS MESSAGE_ID            take back one of your messages (收回)
  parus read [--auto-download MB]          fetch and print new messages; received
                                           files up to MB (PARUS_AUTO_DOWNLOAD_MB,
                                           default 25) are saved in HOME/files/ALIAS/
  parus download ALIAS MESSAGE_ID          save a received file (a larger one, or again)
  parus history ALIAS|GROUP                the whole conversation
  parus chat ALIAS|GROUP                   interactive chat
  ${SEARCH_HELP}
  ${GROUP_HELP}
  ${REQUESTS_HELP}
  ${DEVICES_HELP}

Every command takes --home DIR (or PARUS_HOME) and --json.
The passphrase comes from PARUS_PASSPHRASE or a prompt.`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const json = rest.includes('--json');
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`parus: unknown command '${name}'\n\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    return await command(rest, (j) => makeOutput(j));
  } catch (error) {
    return reportError(error, json);
  }
}
