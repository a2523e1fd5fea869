/**
 * The CLI's English messages (docs/decisions/0043): help texts, prompts, errors of its own,
 * and the lines `read`, `send` and `chat` print. zh-TW.ts has the same keys. `{name}` marks a
 * parameter. Peer text is never part of a template's own text: it comes in as a parameter,
 * already made safe by format.ts.
 */
export const EN = {
  'help.relay': `parus relay [--host H] [--port N] [--public-host NAME] [--data DIR] [--web DIR] [--small]
             [--limit NAME=VALUE]... [--join ADDRESS]... [--note TEXT]
             [--turn URL... --turn-secret FILE] [--store postgres://USER@HOST:PORT/DB --key-secret FILE]
  Runs a relay: a WebSocket endpoint that holds encrypted queues (default 127.0.0.1:7400, data in ./.parus/relay),
  serving the web client (the built packages/web, or --web DIR). --limit sets one of the relay's limits, e.g.
  --limit maxStoredBytes=50e9 --limit maxConnectionsPerAddress=256 (names and defaults: the user guide).
  --small: the profile for a board with 512 MB (lower limits, smaller caches; --limit still applies).
  --join links it to another relay (parus://<fingerprint>@host:port) and so to that relay's cloud.
  --turn turn:HOST:PORT with --turn-secret FILE (coturn's static-auth-secret): hands the relay's users
  short-lived TURN credentials for calls (start coturn yourself: see the user guide).
  --store keeps queues, messages and fan-out lists in PostgreSQL instead of SQLite in --data, so several relay
  processes behind one address share them; --key-secret FILE (32 bytes or 64 hex digits, mode 600) seals the
  relay key they share in that database (see the user guide, "Running several relay processes").
parus relay status [ADDRESS]
  Prints a relay's status: its links, the relays it knows, routes, users and queues (default 127.0.0.1:7400).
parus relay add ADDRESS                  receive on a second relay too (failover): contacts are told`,
  'help.group': `parus group create NAME [--public]       create a private group (--public: a room joined by link)
  parus group invite GROUP ALIAS           invite a contact
  parus group link GROUP [--rotate] [--qr FILE]
                                           a public room's link (--rotate: old links stop working)
  parus group list                         groups and pending invitations (with their ids)
  parus group join ID|LINK [--nick N]      answer an invitation, or join a public room by its link
    [--wait SECONDS]                       (a link: stay until the room's door answers)
  parus group decline ID                   decline an invitation (or give up joining a room)
  parus group chat GROUP MEMBER [--note T] ask a member for a private 1:1 chat
  parus group alias ID NAME                a local name for a group
  parus group members GROUP                members and their roles
  parus group send GROUP TEXT [--me|--ping] write to the group
  parus group send-file GROUP PATH [--name N] [--mime TYPE]
                                           send a photo or file to the group
  parus group topic GROUP TEXT | name GROUP TEXT | nick GROUP NICK
  parus group kick|ban|unban GROUP MEMBER  moderate (MEMBER: nick, name or key)
  parus group role GROUP MEMBER admin|moderator|member
  parus group history-sharing GROUP on|off newcomers get the messages since it was turned on
  parus group confirm GROUP MSGID          confirm a late message (see parus history)
  parus group leave GROUP                  leave the group`,
  'help.requests': `parus requests                           private chat requests from group members (with ids)
  parus requests accept ID [--alias A]     accept one: the member becomes a contact
  parus requests decline ID                decline one (the member is told nothing)`,
  'help.devices': `parus devices                            this account's devices (id, name, current)
  parus device revoke ID                   revoke a lost device (asks the passphrase)
  parus init --link --name NAME --relay ADDRESS [--yes]
                                           link this new device: prints a link, waits
  parus device link LINK [--history all|none|DAYS] [--yes]
                                           answer a new device's link from this one
                                           (history: the last 30 days unless told)
  parus backup export FILE [--history all|none|DAYS]
                                           write an encrypted backup (the account passphrase;
                                           history: all unless told)
  parus init --restore FILE [--name DEVICE]
                                           restore a backup here, as a new device`,
  'help.main': `Parus — end-to-end encrypted messenger

Usage: parus [global options] <command> [options]

  {relay}
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
  parus send ALIAS TEXT [--me] [--reply ID] send a message (--me: an action, as /me;
                                           --reply: the #id that read and history print)
  parus send ALIAS --sticker ID [--pack P] send a sticker (set 'parus' unless --pack)
  parus send-file ALIAS PATH [--name N] [--mime TYPE]
                                           send a file, end-to-end encrypted (the type
                                           and a photo's size are found from its bytes)
  parus unsend ALIAS MESSAGE_ID            take back one of your messages (收回)
  parus delete MESSAGE_ID | --chat ALIAS   delete a message, or a whole conversation, for
                                           you, on all your devices (the contact keeps theirs)
  parus read [--auto-download MB] [--mark-read]
                                           fetch and print new messages; received
                                           files up to MB (PARUS_AUTO_DOWNLOAD_MB,
                                           default 25) are saved in HOME/files/ALIAS/;
                                           --mark-read: tell the senders you read them
  parus download ALIAS MESSAGE_ID          save a received file (a larger one, or again)
  parus history ALIAS|GROUP                the whole conversation
  parus chat ALIAS|GROUP                   interactive chat
  parus search TEXT [--limit N]            find friends, groups and messages (--limit:
                                           at most N results, default 50)
  parus passphrase                         change the passphrase that opens this device's
                                           account (PARUS_NEW_PASSPHRASE or a prompt)
  parus profile [--name N] [--avatar FILE | --no-avatar]
                                           my display name and avatar (a JPEG or PNG, made
                                           ≤ 256 px), sent to every contact end to end
  {group}
  {requests}
  {devices}

Global options, before or after the command:
  --home DIR        the account folder (or PARUS_HOME; default ~/.parus/account)
  --json            one JSON document per command, for scripts
  --lang en|zh-TW   the language of these messages (default: from LC_ALL, LC_MESSAGES, LANG)
  --help, -h        this help
The passphrase comes from PARUS_PASSPHRASE or a prompt.`,
  'error.unknownCommand': "unknown command '{name}'",
  'error.misplacedOption': "'{option}' is not a global option: put it after the command",
  'error.badLang': '--lang takes en or zh-TW',
  'error.line': 'parus: {message} ({name})',
  'passphrase.prompt': 'Passphrase: ',
  'passphrase.again': 'Passphrase again: ',
  'passphrase.none': 'no passphrase: set PARUS_PASSPHRASE or run on a terminal',
  'passphrase.short': 'the passphrase must have at least 8 characters',
  'passphrase.differ': 'the two passphrases differ',
  'passphrase.newPrompt': 'New passphrase: ',
  'passphrase.noNew': 'no new passphrase: set PARUS_NEW_PASSPHRASE or run on a terminal',
  'passphrase.changed': 'Passphrase changed. Use the new one from now on, on this device.',
  'usage.passphrase': 'usage: parus passphrase',
  'usage.profile': 'usage: parus profile [--name NAME] [--avatar FILE | --no-avatar]',
  'profile.name': 'Name: {name}',
  'profile.avatar': 'Avatar: {state}',
  'profile.avatarSet': 'set',
  'profile.avatarNone': 'none',
  'profile.sent': 'Sent to your contacts and your other devices (an offline one gets it later).',
  'profile.unreadable': 'cannot read {file}',
  'profile.notImage': '{file} is not a JPEG or PNG image',
  'profile.tooLarge': '{file} cannot be made into an avatar of at most 48 KiB',
  'profile.bothAvatar': 'choose one of --avatar and --no-avatar',
  'passphrase.cancelled': 'cancelled',
  'home.noAccount': "no account in {home}: run 'parus init' first",
  'home.exists': 'an account already exists in {home}',
  'usage.send': 'usage: parus send ALIAS TEXT | parus send ALIAS --sticker ID [--pack PACK]',
  'usage.sendFile': 'usage: parus send-file ALIAS PATH',
  'usage.delete': 'usage: parus delete MESSAGE_ID, or parus delete --chat ALIAS',
  'usage.unsend': 'usage: parus unsend ALIAS MESSAGE_ID',
  'usage.download': 'usage: parus download ALIAS MESSAGE_ID',
  'usage.history': 'usage: parus history ALIAS',
  'usage.chat': 'usage: parus chat ALIAS',
  'error.messageId': 'MESSAGE_ID is 8 to 64 hex digits (as read and history show it)',
  'error.replyId': '--reply takes a message id: 8 to 64 hex digits (the #id read and history show)',
  'error.idNamesNone': 'no message with {alias} has that id',
  'error.idNamesSeveral': 'that id prefix names several messages; give more digits',
  'error.cannotRead': 'cannot read {path}',
  'error.fileTooLarge': 'file larger than {bytes} bytes',
  'error.fileName':
    'file name must be 1-255 characters without control, bidirectional or invisible characters',
  'error.mime': 'MIME type must look like type/subtype',
  'error.autoDownload': '--auto-download (or PARUS_AUTO_DOWNLOAD_MB) is a size in MB from 0 to 1024',
  'error.noFile': 'no file message with that id',
  'error.severalFiles': 'that id names several files',
  'send.relayDown':
    'the relay is not reachable now; the message waits in the outbox and goes out on the next run',
  'send.pending': '{alias} has not answered the invitation yet; the message waits in the outbox',
  'file.uploading': 'uploading {name}',
  'file.downloading': 'downloading {name}',
  'file.couldNotSave': 'parus: could not save {name}: {message}',
  'file.notSaved': 'parus: not saved: {message} ({name})',
  'file.savedTo': 'saved to {path}',
  'read.joined': 'Joined the room {name} (id {id}).',
  'read.newContact': 'New contact: {alias} (unvalidated). Check the safety number with: parus verify {alias}',
  'read.savedTo': '  saved to {path}',
  'read.tooLarge': '  not downloaded: {size} is over the automatic limit of {limit}',
  'read.downloadWith': '  download it with: parus download {alias} {id}',
  'read.notSaved': '  not saved: {message} ({name})',
  'read.tryLater': '  try again later with: parus download {alias} {id}',
  'read.none': 'No new messages.',
  'read.markedRead': '(marked as read: {count})',
  'history.none': 'No messages with {alias} yet.',
  'chat.help': `Type a message and press Enter to send it.
  /me TEXT       an action: "* you TEXT"
  /sticker ID    a sticker of the built-in set (hello, thanks, ok, haha, ...)
  /unsend ID     take back one of your messages (the #id at its end) (收回)
  /retry         reconnect to the relay now instead of at the next try
  /help          this help
  /quit          leave the chat (Ctrl+D too)
Marks on your messages: … waiting, ✓ on the relay, ✓✓ delivered, 已讀 read.`,
  'chat.keyChanged': "⚠ WARNING: {alias}'s key changed. Verify again.",
  'chat.saveWith': '  save it with: parus download {alias} {id}',
  'chat.delivered': '  ✓✓ delivered: {snippet}',
  'chat.read': '  已讀: {snippet}',
  'chat.unsent': '  (message #{id} was unsent 已收回)',
  'chat.typing': '  ({alias} is typing…)',
  'chat.connected': '(connected)',
  'chat.unreachable': '(relay unreachable, next try in {seconds} s; /retry tries now)',
  'chat.banner': '— chatting with {alias}; /help for help —',
  'chat.reconnecting': '(reconnecting…)',
  'chat.notWaiting': '(not waiting to reconnect)',
  'chat.unknownCommand': 'unknown command {command}; /help lists them',
  'chat.unsendUsage': 'usage: /unsend ID (the #id shown at the end of one of your messages)',
  'chat.error': 'parus: {message}',
  'format.unsent': '(message unsent 已收回)',
  'format.sticker': '[sticker {pack}/{id}]',
  'format.file': '[file {name}, {size}, {mime}]',
  'format.groupVoiceCall': 'group voice call',
  'format.groupVideoCall': 'group video call',
  'format.groupCall': '[{kind} {time} 群組通話]',
  'format.groupCallMissed': '[{kind}, nobody joined]',
  'format.photo': '[photo {name}, {width}×{height}, {size}]',
  'format.me': 'me',
  'format.failed': '✗ not delivered',
} as const;

export type MessageKey = keyof typeof EN;
