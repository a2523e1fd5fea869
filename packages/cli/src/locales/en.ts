/**
 * The CLI's English messages (docs/decisions/0043): help texts, prompts, errors of its own,
 * and the lines `read`, `send` and `chat` print. zh-TW.ts has the same keys. `{name}` marks a
 * parameter. Peer text is never part of a template's own text: it comes in as a parameter,
 * already made safe by format.ts.
 */
export const EN = {
  'help.relay': `parus relay [--host H] [--port N] [--public-host NAME] [--data DIR] [--web DIR] [--small]
             [--limit NAME=VALUE]... [--join ADDRESS]... [--note TEXT]
             [--turn URL... --turn-secret FILE] [--store postgres://USER@HOST:PORT/DB --key-secret FILE [--blobs postgres|DIR]]
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
  --blobs (with --store): where file chunks go: postgres (bytea rows, the default) or DIR, a folder every
  relay process mounts (e.g. NFS); blob metadata and the blob budget are in PostgreSQL either way.
parus relay status [ADDRESS]
  Prints a relay's status: its links, the relays it knows, routes, users and queues (default 127.0.0.1:7400).
parus relay add ADDRESS                  receive on a second relay too (failover): contacts are told`,
  'help.group': `parus group create NAME [--public]       create a private group (--public: a room joined by link)
  parus group invite GROUP ALIAS           invite a contact
  parus group link GROUP [--rotate] [--long] [--qr FILE]
                                           a public room's short link (--long: the full one,
                                           offline; --rotate: old links stop working)
  parus group list                         groups and pending invitations (with their ids)
  parus group join ID|LINK [--nick N]      answer an invitation, or join a public room by its link
                                           (short or long)
    [--wait SECONDS]                       (a link: stay until the room's door answers)
  parus group decline ID                   decline an invitation (or give up joining a room)
  parus group chat GROUP MEMBER [--note T] ask a member for a private 1:1 chat
  parus group alias ID NAME                a local name for a group
  parus group members GROUP                members and their roles
  parus group send GROUP TEXT [--me|--ping] write to the group
  parus group send-file GROUP PATH [--name N] [--mime TYPE]
                                           send a photo or file to the group
  parus group topic GROUP TEXT | name GROUP TEXT | nick GROUP NICK
  parus group avatar GROUP FILE|--none     the group's picture (a JPEG or PNG, made 128 px, 6 KiB)
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
  parus passphrase                         change the account passphrase, and the one that
                                           opens this device (PARUS_NEW_PASSPHRASE or a prompt)
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
  'passphrase.changed':
    'Passphrase changed, for the account and this device. Your other devices take the change when they next connect; each still opens with its old passphrase until you run `parus passphrase` there (the old one, then the new one).',
  'passphrase.caughtUp':
    'This device now opens with the account passphrase that was changed on another device.',
  'usage.passphrase': 'usage: parus passphrase',
  'usage.profile': 'usage: parus profile [--name NAME] [--avatar FILE | --no-avatar]',
  'profile.name': 'Name: {name}',
  'profile.avatar': 'Avatar: {state}',
  'profile.avatarSet': 'set',
  'profile.avatarNone': 'none',
  'profile.sent': 'Sent to your contacts and your other devices (an offline one gets it later).',
  'profile.unreadable': 'cannot read {file}',
  'profile.notImage': '{file} is not a JPEG or PNG image',
  'profile.tooLarge': '{file} cannot be made into an avatar of at most {kib} KiB',
  'profile.bothAvatar': 'choose one of --avatar and --no-avatar',
  'passphrase.cancelled': 'cancelled',
  'home.noAccount': "no account in {home}: run 'parus init' first",
  'home.exists': 'an account already exists in {home}',
  'usage.send': 'usage: parus send ALIAS TEXT | parus send ALIAS --sticker ID [--pack PACK]',
  'usage.groupSendFile': 'usage: parus group send-file GROUP PATH [--name N] [--mime TYPE]',
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
  'error.configTooLarge': 'the relay config file is too large',
  'error.configUnreadable': 'cannot read the relay config file',
  'error.configNotJson': 'the relay config file is not JSON',
  'error.configNotObject': 'the relay config file must hold one JSON object',
  'error.configKey': 'the relay config file knows {known}, not {key}',
  'error.configValue': '{key} in the relay config file must be a string',
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
  /sticker ID    a sticker: its id or name (hello, 加油, ...), or PACK/ID of any pack
  /stickers [PACK]  the sticker packs (小山雀, 臺灣藍鵲, 黃山雀, 五色鳥), or one pack's stickers
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
  'format.me': 'me',
  'format.failed': '✗ not delivered',
  'init.restoreRelay': '--restore takes the relay from the backup',
  'init.linkRelay': '--link takes one --relay, the one that carries the link',
  'usage.init': 'usage: parus init --name NAME --relay ADDRESS [--relay ADDRESS2]',
  'init.created': 'Account for {name} created in {home}',
  'init.relay': 'Relay: {relay}',
  'init.relay2': 'Second relay: {relay}',
  'init.next': "Next: 'parus invite' makes a card to give a friend.",
  'usage.relayAdd': 'usage: parus relay add ADDRESS',
  'relayAdd.told': 'Told {count} contact(s) of a queue there; new invitations carry it.',
  'relayAdd.failed': "{count} could not get a queue there now; run 'parus relay add {relay}' again later.",
  'error.qrFile': '--qr takes a file name ending in .png or .svg',
  'invite.resetAlone': '--reset resets the reusable card: parus invite --reusable --reset',
  'invite.oneTime': 'One-time invitation (valid 7 days):',
  'invite.reusable': 'Reusable contact address (my QR code):',
  'qr.written': 'QR code written to {path}',
  'invite.cardWritten': 'Card written to {path}',
  'qr.tooWide': '(The QR code needs a terminal {width} columns wide; widen it, or use --qr {file}.)',
  'invite.friendRuns': "Your friend runs: parus accept '<link>' --alias {alias}",
  'usage.accept': 'usage: parus accept LINK|FILE --alias ALIAS',
  'accept.notLink': 'the argument is neither a parus: link nor a readable card file',
  'accept.already': 'Already friends: this is the card of {alias}.',
  'link.spent': 'this link was already used, withdrawn or has expired; ask for a new one',
  'accept.keyChanged': '⚠ WARNING: {alias} now has a different key. Verify it again.',
  'accept.sent': 'Contact request sent to {alias}.',
  'accept.safetyNumber': 'Safety number: {number}',
  'accept.compare': 'Compare it with {alias} in person, then: parus verify {alias} --confirm',
  'contacts.none': "No contacts yet. 'parus invite' makes a card to give a friend.",
  'usage.verify': 'usage: parus verify ALIAS [--confirm | --compromised | --reset]',
  'verify.oneFlag': 'choose one of --confirm, --compromised, --reset',
  'verify.keyChanged': "⚠ WARNING: {alias}'s key changed. Compare the safety number again.",
  'verify.title': 'Safety number with {alias}:',
  'verify.state': 'State: {state}',
  'state.validated': 'validated',
  'state.unvalidated': 'unvalidated',
  'state.compromised': 'compromised',
  'verify.confirmHint': 'If {alias} sees the same digits: parus verify {alias} --confirm',
  'error.noMessage': 'no such message',
  'delete.relayDown': 'the relay is not reachable now; your other devices hear of it on the next run',
  'delete.message': 'Deleted {id} from {alias} (for you, on all your devices).',
  'delete.chat': 'Deleted the conversation with {alias} (for you, on all your devices).',
  'search.friend': 'friend  {alias} ({name})',
  'search.group': 'group   {name}  {id}',
  'usage.search': 'usage: parus search TEXT [--limit N]',
  'search.limit': '--limit takes a whole number',
  'search.none': 'Nothing found.',
  'chat.meUsage': 'usage: /me TEXT',
  'chat.stickerUsage': 'usage: /sticker ID | NAME | PACK/ID (/stickers lists them)',
  'sticker.unknown': 'no sticker called {name}: /stickers lists them, PACK/ID sends one of another pack',
  'sticker.noPack': 'no pack called {pack}: /stickers lists them',
  'sticker.listHint':
    '/stickers PACK shows names; /sticker ID sends (the first pack that has it), /sticker PACK/ID that one',
  'sticker.sendHint': 'send one with {example}',
  'file.progress': '{label}: {pct}% ({done} of {total})',
  'format.voice': '[voice message {time}, {name}, {size}]',
  'call.video': 'video call',
  'call.voice': 'voice call',
  'call.answered': '[{kind} {time} 通話時間]',
  'call.missedIn': 'missed {kind} from {who} (未接來電)',
  'call.missedOut': '{kind}, no answer (對方未接聽)',
  'call.declined': '{kind} declined (通話已拒絕)',
  'call.busy': '{kind}, busy (對方忙線中)',
  'call.failed': '{kind} failed (通話失敗)',
  'format.read': '已讀',
  'format.readCount': '已讀 {count}',
  'format.late': '(arrived late, {count}/{needed} confirmations — parus group confirm {group} {id})',
  'format.lateConfirmed': '(arrived late, confirmed by {count})',
  'format.earlier': '(earlier history)',
  'format.pinged': '{who} pinged',
  'contact.validated': '✔ validated',
  'contact.compromised': '✘ COMPROMISED',
  'contact.unvalidated': '? unvalidated',
  'contact.pending': '(waiting for their answer)',
  'contact.keyChanged': '⚠ key changed',
  'outbox.waits': 'the relay is not reachable now; this waits in the outbox and goes out on the next run',
  'group.invitation': '✉ {name}  invitation from {from} — parus group join {id}',
  'group.members': '{count} members',
  'group.membersRole': '{count} members, you are {role}',
  'group.removed': 'removed (kicked or banned)',
  'group.leftState': 'left',
  'group.sharingOn': 'history sharing: on',
  'group.topicLine': 'topic: {topic}',
  'group.you': '(you)',
  'group.noSession': '(no session yet)',
  'role.creator': 'creator',
  'role.admin': 'admin',
  'role.moderator': 'moderator',
  'role.member': 'member',
  'usage.generic': 'usage: {usage}',
  'usage.group': `usage:
  {help}`,
  'group.createdRoom': 'Public room {name} created (id {id}). Share it with: parus group link {name}',
  'group.created': 'Group {name} created (id {id}). Invite with: parus group invite {name} ALIAS',
  'group.invited': 'Invitation to {name} sent to {alias}.',
  'group.none': 'No groups yet.',
  'group.wait': '--wait takes whole seconds, 0-3600',
  'group.joined': 'Joined {name}.',
  'group.declined': 'Declined the invitation to {name}.',
  'group.aliased': 'Group {id} is now called {alias} here.',
  'group.left': 'You left {name}.',
  'group.kicked': '{member} removed from {name}.',
  'group.banned': '{member} banned from {name}.',
  'group.unbanned': '{member} unbanned in {name}.',
  'group.roleSet': '{member} is now {role} in {name}.',
  'group.nickSet': 'Your nick is now: {text}',
  'group.nameSet': 'The name is now: {text}',
  'group.topicSet': 'The topic is now: {text}',
  'group.avatarSet': 'The picture of {name} is set: every member sees it.',
  'group.avatarRemoved': 'The picture of {name} is removed.',
  'group.avatarBoth': 'give either a FILE or --none',
  'group.sharingOnSet':
    'History sharing is on in {name}: newcomers will get the messages written from now on.',
  'group.sharingOffSet': 'History sharing is off in {name}: newcomers read only what comes after they join.',
  'group.unknown': `unknown group command '{sub}'
  {help}`,
  'group.chatHelp': `Type a message and press Enter to send it to the group.
  /me ACTION          an action ("* you waves")
  /topic TEXT         set the topic (moderators)
  /nick NICK          your nick in this group
  /invite ALIAS       invite a contact
  /kick MEMBER        remove a member (moderators)
  /ban MEMBER         ban a member (moderators)
  /op MEMBER [ROLE]   make a member moderator, or give ROLE (admin|moderator|member)
  /confirm MSGID      confirm a message marked late (its #id)
  /sticker ID         a sticker (its id, name or PACK/ID); /stickers [PACK] lists them
  /help  /quit`,
  'group.change': '({change})',
  'group.banner': '— {name}; /help for help —',
  'group.bannerTopic': '— {name}: {topic}; /help for help —',
  'group.nickNow': 'your nick is now {nick}',
  'group.invitedShort': 'invited {alias}',
  'group.kickedShort': 'kicked {member}',
  'group.bannedShort': 'banned {member}',
  'group.opUsage': 'usage: /op MEMBER [ROLE]',
  'group.roleNow': '{member} is now {role}',
  'group.confirmUsage': 'usage: /confirm MSGID',
  'group.confirmedPlaced': 'confirmed: the message moves to its place',
  'group.confirmedCount': 'confirmed ({count}/{needed})',
  'request.line':
    '☎ {from} in {group} asks for a private chat{note} — parus requests accept {id} --alias NAME',
  'room.link': 'Room link for {name}:',
  'room.linkRotated': 'Room link for {name} (new: earlier links no longer work):',
  'refusal.linkInvalid': 'the link is no longer valid (ask a member for the current one)',
  'refusal.notAllowed': 'you are not allowed to join this room',
  'refusal.tooMany': 'too many people are joining right now; try again later',
  'refusal.line': '✗ {name}: the room refused the join — {why}. Dismiss with: parus group decline {id}',
  'room.asked': 'Asked to join {name} (id {id}); you are in once its door answers (see parus read).',
  'request.asked': 'Asked {member} for a private chat. If they accept, they appear in parus contacts.',
  'request.none': 'No chat requests.',
  'request.accepted': '{alias} is now a contact (unvalidated). Chat with: parus chat {alias}',
  'request.declined': 'Declined.',
  'request.unknown': `unknown requests command '{sub}'
  {help}`,
  'link.forged': 'this link does not check out: it was changed or forged',
  'link.malformed': 'this is not a valid parus: link (copy it whole)',
  'link.unreachable': "the link's relay cannot be reached now; try again later",
  'device.badName': 'device name {problem}',
  'device.current': '(this device)',
  'device.revoked': '(revoked)',
  'device.otherPassphrase':
    "The account passphrase was changed on another device. Run `parus passphrase` here (this device's passphrase, then the new account passphrase) to use it on this device too; revoking and linking need it.",
  'device.waiting':
    "{n} change(s) made here lost against another device's and wait to be signed again with the account passphrase (done at the next command that opens this device with it).",
  'device.toldLater': 'Contacts will be told at the next sync: {error}',
  'device.revokedLine': 'Revoked {id} ({name}).',
  'backup.cannotCreate': 'cannot create {path} (it may exist already)',
  'backup.written':
    'Backup of {contacts} contacts and {messages} messages written to {path} ({bytes} bytes).',
  'device.notReached': 'Contacts could not be reached yet: {error}',
  'backup.tooLarge': 'backup file too large',
  'restore.done': 'Account of {name} restored in {home} as a new device, {device}.',
  'restore.counts': 'Devices: {devices}; contacts: {contacts}; messages: {messages}.',
  'restore.waiting': '{count} contacts wait until they can be reached (parus sync tries again).',
  'link.code': 'Short code: {code}. Check that the other device shows the same code.',
  'link.sameCode': 'Same code on both devices? [y/N] ',
  'usage.initLink': 'usage: parus init --link --name NAME --relay ADDRESS (the relay carries the link)',
  'link.runThere': 'On a device of your account run:',
  'link.linked': "Linked: this device ({device}) is now a device of {name}'s account, in {home}.",
  'link.history': 'History brought: {messages} messages.',
  'link.answered': 'Linked {name} ({id}) to this account ({messages} messages of history).',
  'home.testKdf': 'parus: {name} is set: the light test profile guards this account',
  'file.cannotSave': 'cannot save the file',
  'file.escapes': 'file name escapes the files folder',
  'file.tooMany': 'too many files with this name',
  'error.wholeNumber': '--{name} must be a whole number',
  'relay.limitName': "--limit takes NAME=VALUE with a relay limit's name, not {pair}",
  'relay.limitValue': '--limit {name} needs a positive number',
  'relay.turnPair': '--turn and --turn-secret go together',
  'relay.joinAddress': '--join takes a relay address (parus://<fingerprint>@host:port), not {address}',
  'relay.running': 'Parus relay running.',
  'relay.start': 'Start chatting (in another terminal):',
  'relay.startInvite': 'prints a link and a QR code to give a friend',
  'relay.startAccept': "on the friend's side",
  'relay.stop': 'Press Ctrl+C to stop.',
  'relay.statusTarget': 'parus relay status takes a relay address, http://host:port or host:port',
  'relay.answered': 'the relay answered {status}',
  'relay.cannotRead': 'cannot read {url}',
  'relay.otherFingerprint': 'the relay at that address has another fingerprint than the address says',
  'relay.none': '(none)',
  'relay.noneWord': 'none',
  'relay.known': 'relays:    {relays} known, {links} links in the cloud',
  'relay.cloudLinks': 'links in the cloud:',
  'relay.routes': 'routes:',
  'relay.route': '{to} via {via} ({hops} hops)',
  'relay.forwards': 'forwards:  {held} held, {forwarded} sent on, {delivered} delivered here',
  'error.options': '{detail}',
  'relayRun.address': '  address: {value}',
  'relayRun.web': '  web:     {value}  (open it in a browser to chat)',
  'relayRun.health': '  health:  {value}',
  'relayRun.status': '  status:  {value}',
  'relayRun.joining': '  joining: {value}',
  'relayRun.turn': '  turn:    {value}',
  'relayRun.bus': '  bus:     redis {value}',
  'relayRun.store': '  store:   postgres (shared with the other relay processes on it)',
  'relayRun.blobsPostgres': '  blobs:   postgres',
  'relayRun.blobsFolder': '  blobs:   {value} (shared folder)',
  'relayRun.data': '  data:    {value}',
  'relayRun.small': '  profile: small (lower limits and caches, for a board with 512 MB)',
  'relayStatus.relay': 'relay:     {value}',
  'relayStatus.version': 'version:   {version}   uptime: {uptime} s',
  'relayStatus.users': 'users:     {users}   queues: {queues}',
  'relayStatus.store': 'store:     {store}   blobs: {blobs}',
  'relayStatus.busUp': 'process:   {process}, one of several on a Redis bus (connected)',
  'relayStatus.busDown': 'process:   {process}, one of several on a Redis bus (NOT connected)',
  'relayStatus.links': 'links:     {value}',
  'relayStatus.bridges': 'bridges:   {value}',
} as const;

export type MessageKey = keyof typeof EN;
