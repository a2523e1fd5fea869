/** The CLI's Traditional Chinese messages: the same keys as en.ts (docs/decisions/0043). */
import type { MessageKey } from './en.ts';

export const ZH_TW: Record<MessageKey, string> = {
  'help.relay': `parus relay [--host H] [--port N] [--public-host NAME] [--data DIR] [--web DIR] [--small]
             [--limit NAME=VALUE]... [--join ADDRESS]... [--note TEXT]
             [--turn URL... --turn-secret FILE] [--store postgres://USER@HOST:PORT/DB --key-secret FILE [--blobs postgres|DIR]]
  執行一個中繼站：保存加密佇列的 WebSocket 端點（預設 127.0.0.1:7400，資料在 ./.parus/relay），
  並提供網頁版（已建置的 packages/web，或 --web DIR）。--limit 設定中繼站的一項上限，例如
  --limit maxStoredBytes=50e9 --limit maxConnectionsPerAddress=256（名稱與預設值見使用說明）。
  --small：給 512 MB 小型主機的設定（較低的上限、較小的快取；--limit 仍然有效）。
  --join 連上另一個中繼站（parus://<指紋>@主機:連接埠），加入它所在的中繼網。
  --turn turn:主機:連接埠 搭配 --turn-secret 檔案（coturn 的 static-auth-secret）：發給這個中繼站的使用者
  短效的 TURN 憑證供通話使用（coturn 要自己啟動：見使用說明）。
  --store 把佇列、訊息與群發名單存在 PostgreSQL，而不是 --data 裡的 SQLite，讓同一個位址後面的多個
  中繼站行程共用；--key-secret 檔案（32 位元組或 64 個十六進位字元，權限 600）加密它們在該資料庫裡
  共用的中繼站金鑰（見使用說明「執行多個中繼站行程」）。
  --blobs（搭配 --store）：檔案區塊放在哪裡：postgres（bytea 資料列，預設）或 DIR，每個中繼站行程都
  掛載的共用資料夾（例如 NFS）；檔案的中繼資料與總容量上限一律在 PostgreSQL。
parus relay status [ADDRESS]
  顯示中繼站的狀態：連線、已知的中繼站、路由、使用者與佇列（預設 127.0.0.1:7400）。
parus relay add ADDRESS                  也在第二個中繼站收訊息（備援），並通知聯絡人`,
  'help.group': `parus group create NAME [--public]       建立私人群組（--public：用連結加入的公開聊天室）
  parus group invite GROUP ALIAS           邀請一位聯絡人
  parus group link GROUP [--rotate] [--long] [--qr FILE]
                                           公開聊天室的短連結（--long：完整連結，離線也能用；
                                           --rotate：舊連結失效）
  parus group list                         群組與待回覆的邀請（含 id）
  parus group join ID|LINK [--nick N]      接受邀請，或用連結（短或長）加入公開聊天室
    [--wait SECONDS]                       （連結：等到聊天室的門口回覆）
  parus group decline ID                   拒絕邀請（或放棄加入聊天室）
  parus group chat GROUP MEMBER [--note T] 請一位成員和你私聊
  parus group alias ID NAME                群組在這台裝置上的名稱
  parus group members GROUP                成員與身分
  parus group send GROUP TEXT [--me|--ping] 在群組發言
  parus group send-file GROUP PATH [--name N] [--mime TYPE]
                                           傳送照片或檔案到群組
  parus group topic GROUP TEXT | name GROUP TEXT | nick GROUP NICK
  parus group avatar GROUP FILE|--none     群組頭像（JPEG 或 PNG，縮成 128 px、6 KiB）
  parus group kick|ban|unban GROUP MEMBER  管理成員（MEMBER：暱稱、名稱或金鑰）
  parus group role GROUP MEMBER admin|moderator|member
  parus group history-sharing GROUP on|off 新成員可讀到開啟之後的訊息
  parus group confirm GROUP MSGID          確認一則晚到的訊息（見 parus history）
  parus group leave GROUP                  退出群組`,
  'help.requests': `parus requests                           群組成員的私聊請求（含 id）
  parus requests accept ID [--alias A]     接受：對方成為聯絡人
  parus requests decline ID                拒絕（對方不會收到通知）`,
  'help.devices': `parus devices                            這個帳號的裝置（id、名稱、目前這台）
  parus device revoke ID                   撤銷遺失的裝置（會詢問密碼）
  parus init --link --name NAME --relay ADDRESS [--yes]
                                           連結這台新裝置：顯示連結並等待
  parus device link LINK [--history all|none|DAYS] [--yes]
                                           從這台裝置回覆新裝置的連結
                                           （歷史訊息：未指定時帶最近 30 天）
  parus backup export FILE [--history all|none|DAYS]
                                           寫出加密備份（以帳號密碼加密；
                                           歷史訊息：未指定時全部帶上）
  parus init --restore FILE [--name DEVICE]
                                           在這裡還原備份，成為一台新裝置`,
  'help.main': `Parus 山雀 — 端對端加密的即時通訊

用法：parus [通用選項] <指令> [選項]

  {relay}
  parus init --name NAME --relay ADDRESS [--relay ADDRESS2]
                                           在這台裝置建立帳號（第二個中繼站：
                                           其中一個停機時仍收得到訊息）
  parus invite [--reusable [--reset]] [--long] [--qr FILE.png|.svg] [--out FILE]
                                           產生邀請卡（短連結與 QR 碼；--long：完整邀請卡，
                                           可離線使用；--reusable：我的好友條碼，--reset：換新的）
  parus accept|add LINK|FILE --alias ALIAS 回覆好友的邀請卡（短連結或完整連結皆可）
  parus contacts                           列出聯絡人與驗證狀態
  parus verify ALIAS [--confirm|--compromised|--reset] [--qr FILE]
                                           顯示安全碼、設定驗證狀態
  parus send ALIAS TEXT [--me] [--reply ID] 傳送訊息（--me：動作，如 /me；
                                           --reply：read 與 history 顯示的 #id）
  parus send ALIAS --sticker ID [--pack P] 傳送貼圖（未給 --pack 時用 parus 組）
  parus send-file ALIAS PATH [--name N] [--mime TYPE]
                                           傳送檔案，端對端加密（類型與照片尺寸
                                           由檔案內容判斷）
  parus unsend ALIAS MESSAGE_ID            收回自己的一則訊息
  parus delete MESSAGE_ID | --chat ALIAS   只替自己刪除一則訊息或整段對話（你所有的裝置都會刪除，好友仍保有他的）
  parus read [--auto-download MB] [--mark-read]
                                           收取並顯示新訊息；MB 以內的檔案
                                           （PARUS_AUTO_DOWNLOAD_MB，預設 25）
                                           存到 HOME/files/ALIAS/；
                                           --mark-read：告訴對方你已讀
  parus download ALIAS MESSAGE_ID          儲存收到的檔案（較大的檔案，或再存一次）
  parus history ALIAS|GROUP                整段對話
  parus chat ALIAS|GROUP                   互動式聊天
  parus search TEXT [--limit N]            搜尋好友、群組與訊息（--limit：最多 N 筆，預設 50）
  parus passphrase                         變更帳號密碼，以及這台裝置開啟帳號用的密碼
                                           （PARUS_NEW_PASSPHRASE 或輸入）
  parus profile [--name N] [--avatar FILE | --no-avatar]
                                           我的顯示名稱與大頭貼（JPEG 或 PNG，縮成
                                           256 px 以內），端對端加密傳給每位好友
  {group}
  {requests}
  {devices}

通用選項，放在指令之前或之後都可以：
  --home DIR        帳號資料夾（或 PARUS_HOME；預設 ~/.parus/account）
  --json            每個指令輸出一份 JSON，給程式使用
  --lang en|zh-TW   訊息的語言（預設依 LC_ALL、LC_MESSAGES、LANG）
  --help, -h        這份說明
密碼來自 PARUS_PASSPHRASE，或在終端機上詢問。`,
  'error.unknownCommand': '沒有「{name}」這個指令',
  'error.misplacedOption': '「{option}」不是通用選項：請放在指令之後',
  'error.badLang': '--lang 只接受 en 或 zh-TW',
  'error.line': 'parus：{message}（{name}）',
  'passphrase.prompt': '密碼：',
  'passphrase.again': '再次輸入密碼：',
  'passphrase.none': '沒有密碼：請設定 PARUS_PASSPHRASE，或在終端機上執行',
  'passphrase.short': '密碼至少需要 8 個字元',
  'passphrase.differ': '兩次輸入的密碼不一樣',
  'passphrase.newPrompt': '新密碼：',
  'passphrase.noNew': '沒有新密碼：請設定 PARUS_NEW_PASSPHRASE，或在終端機上執行',
  'passphrase.changed':
    '帳號密碼與這台裝置的密碼都已變更。其他裝置下次連線時會收到這項變更；在那些裝置上執行 `parus passphrase`（先輸入舊密碼，再輸入新密碼）之前，它們仍用舊密碼開啟。',
  'passphrase.caughtUp': '這台裝置現在改用在另一台裝置上變更過的帳號密碼開啟。',
  'usage.passphrase': '用法：parus passphrase',
  'usage.profile': '用法：parus profile [--name 名稱] [--avatar 檔案 | --no-avatar]',
  'profile.name': '名稱：{name}',
  'profile.avatar': '大頭貼：{state}',
  'profile.avatarSet': '已設定',
  'profile.avatarNone': '未設定',
  'profile.sent': '已傳給你的好友和你的其他裝置（離線的好友之後會收到）。',
  'profile.unreadable': '無法讀取 {file}',
  'profile.notImage': '{file} 不是 JPEG 或 PNG 圖片',
  'profile.tooLarge': '{file} 無法縮成 {kib} KiB 以內的大頭貼',
  'profile.bothAvatar': '--avatar 與 --no-avatar 只能選一個',
  'passphrase.cancelled': '已取消',
  'home.noAccount': '{home} 裡沒有帳號：請先執行 parus init',
  'home.exists': '{home} 裡已經有一個帳號',
  'usage.send': '用法：parus send ALIAS TEXT | parus send ALIAS --sticker ID [--pack PACK]',
  'usage.groupSendFile': '用法：parus group send-file GROUP PATH [--name N] [--mime TYPE]',
  'usage.sendFile': '用法：parus send-file ALIAS PATH',
  'usage.delete': '用法：parus delete MESSAGE_ID，或 parus delete --chat ALIAS',
  'usage.unsend': '用法：parus unsend ALIAS MESSAGE_ID',
  'usage.download': '用法：parus download ALIAS MESSAGE_ID',
  'usage.history': '用法：parus history ALIAS',
  'usage.chat': '用法：parus chat ALIAS',
  'error.messageId': 'MESSAGE_ID 是 8 到 64 個十六進位數字（read 與 history 顯示的 id）',
  'error.replyId': '--reply 需要訊息 id：8 到 64 個十六進位數字（read 與 history 顯示的 #id）',
  'error.idNamesNone': '和 {alias} 的對話裡沒有這個 id 的訊息',
  'error.idNamesSeveral': '這段 id 符合好幾則訊息，請多給幾個數字',
  'error.configTooLarge': '中繼站設定檔太大',
  'error.configUnreadable': '無法讀取中繼站設定檔',
  'error.configNotJson': '中繼站設定檔不是 JSON',
  'error.configNotObject': '中繼站設定檔必須是一個 JSON 物件',
  'error.configKey': '中繼站設定檔只認得 {known}，沒有 {key}',
  'error.configValue': '中繼站設定檔中的 {key} 必須是字串',
  'error.cannotRead': '無法讀取 {path}',
  'error.fileTooLarge': '檔案超過 {bytes} 位元組',
  'error.fileName': '檔名須為 1 到 255 個字元，且不含控制字元、方向控制字元或隱形字元',
  'error.mime': 'MIME 類型的格式須為 類型/子類型',
  'error.autoDownload': '--auto-download（或 PARUS_AUTO_DOWNLOAD_MB）是 0 到 1024 的 MB 數',
  'error.noFile': '沒有這個 id 的檔案訊息',
  'error.severalFiles': '這段 id 符合好幾個檔案',
  'send.relayDown': '目前連不上中繼站；訊息留在寄件匣，下次執行時送出',
  'send.pending': '{alias} 還沒回覆邀請；訊息留在寄件匣',
  'file.uploading': '正在上傳 {name}',
  'file.downloading': '正在下載 {name}',
  'file.couldNotSave': 'parus：無法儲存 {name}：{message}',
  'file.notSaved': 'parus：沒有儲存：{message}（{name}）',
  'file.savedTo': '已存到 {path}',
  'read.joined': '已加入聊天室 {name}（id {id}）。',
  'read.newContact': '新聯絡人：{alias}（尚未驗證）。請用這個指令核對安全碼：parus verify {alias}',
  'read.savedTo': '  已存到 {path}',
  'read.tooLarge': '  沒有下載：{size} 超過自動下載上限 {limit}',
  'read.downloadWith': '  下載指令：parus download {alias} {id}',
  'read.notSaved': '  沒有儲存：{message}（{name}）',
  'read.tryLater': '  稍後再試：parus download {alias} {id}',
  'read.none': '沒有新訊息。',
  'read.markedRead': '（已標為已讀：{count} 則）',
  'history.none': '和 {alias} 還沒有訊息。',
  'chat.help': `輸入訊息後按 Enter 送出。
  /me TEXT       動作：「* 你 TEXT」
  /sticker ID    傳送貼圖：代號或名稱（hello、加油……），或任何一組的 PACK/ID
  /stickers [PACK]  列出貼圖組（小山雀、臺灣藍鵲、黃山雀、五色鳥），或一組的貼圖
  /unsend ID     收回自己的一則訊息（訊息結尾的 #id）
  /retry         立刻重新連線，不等下一次嘗試
  /help          這份說明
  /quit          離開聊天（也可按 Ctrl+D）
自己訊息上的標記：… 等待中、✓ 已到中繼站、✓✓ 已送達、已讀。`,
  'chat.keyChanged': '⚠ 警告：{alias} 的金鑰變了，請重新驗證。',
  'chat.saveWith': '  儲存指令：parus download {alias} {id}',
  'chat.delivered': '  ✓✓ 已送達：{snippet}',
  'chat.read': '  已讀：{snippet}',
  'chat.unsent': '  （訊息 #{id} 已收回）',
  'chat.typing': '  （{alias} 正在輸入…）',
  'chat.connected': '（已連線）',
  'chat.unreachable': '（連不上中繼站，{seconds} 秒後再試；/retry 立刻重試）',
  'chat.banner': '— 正在和 {alias} 聊天；輸入 /help 查看說明 —',
  'chat.reconnecting': '（重新連線中…）',
  'chat.notWaiting': '（目前沒有在等待重新連線）',
  'chat.unknownCommand': '沒有 {command} 這個指令；/help 會列出所有指令',
  'chat.unsendUsage': '用法：/unsend ID（自己訊息結尾顯示的 #id）',
  'chat.error': 'parus：{message}',
  'format.unsent': '（訊息已收回）',
  'format.sticker': '[貼圖 {pack}/{id}]',
  'format.file': '[檔案 {name}，{size}，{mime}]',
  'format.groupVoiceCall': '群組語音通話',
  'format.groupVideoCall': '群組視訊通話',
  'format.groupCall': '[{kind} {time}]',
  'format.groupCallMissed': '[{kind}，無人加入]',
  'format.me': '我',
  'format.failed': '✗ 未送達',
  'init.restoreRelay': '--restore 會沿用備份裡的中繼站，不能再給 --relay',
  'init.linkRelay': '--link 只接受一個 --relay：傳送連結的那個中繼站',
  'usage.init': '用法：parus init --name NAME --relay ADDRESS [--relay ADDRESS2]',
  'init.created': '已在 {home} 為 {name} 建立帳號',
  'init.relay': '中繼站：{relay}',
  'init.relay2': '第二個中繼站：{relay}',
  'init.next': '下一步：用 parus invite 產生邀請卡給朋友。',
  'usage.relayAdd': '用法：parus relay add ADDRESS',
  'relayAdd.told': '已告訴 {count} 位聯絡人那裡的新佇列；新的邀請也會帶著它。',
  'relayAdd.failed': '有 {count} 位現在無法在那裡取得佇列；請稍後再執行 parus relay add {relay}。',
  'error.qrFile': '--qr 需要以 .png 或 .svg 結尾的檔名',
  'invite.resetAlone': '--reset 是重設好友條碼用的：parus invite --reusable --reset',
  'invite.oneTime': '一次性邀請（7 天內有效）：',
  'invite.reusable': '可重複使用的聯絡地址（我的好友條碼）：',
  'qr.written': 'QR 碼已寫入 {path}',
  'invite.cardWritten': '邀請卡已寫入 {path}',
  'qr.tooWide': '（QR 碼需要 {width} 欄寬的終端機；請把視窗拉寬，或改用 --qr {file}。）',
  'invite.friendRuns': "請朋友執行：parus accept '<連結>' --alias {alias}",
  'usage.accept': '用法：parus accept LINK|FILE --alias ALIAS',
  'accept.notLink': '這個參數既不是 parus: 連結，也不是可讀取的邀請卡檔案',
  'accept.already': '你們已經是好友了：這是 {alias} 的邀請卡。',
  'link.spent': '這個連結已經用過、已撤回或已過期；請對方給你新的連結',
  'accept.keyChanged': '⚠ 警告：{alias} 的金鑰不一樣了，請重新驗證。',
  'accept.sent': '已向 {alias} 送出聯絡人邀請。',
  'accept.safetyNumber': '安全碼：{number}',
  'accept.compare': '請當面和 {alias} 核對，然後執行：parus verify {alias} --confirm',
  'contacts.none': '還沒有聯絡人。用 parus invite 產生邀請卡給朋友。',
  'usage.verify': '用法：parus verify ALIAS [--confirm | --compromised | --reset]',
  'verify.oneFlag': '--confirm、--compromised、--reset 只能選一個',
  'verify.keyChanged': '⚠ 警告：{alias} 的金鑰變了，請重新核對安全碼。',
  'verify.title': '和 {alias} 的安全碼：',
  'verify.state': '狀態：{state}',
  'state.validated': '已驗證',
  'state.unvalidated': '未驗證',
  'state.compromised': '已遭破解',
  'verify.confirmHint': '如果 {alias} 看到的數字相同：parus verify {alias} --confirm',
  'error.noMessage': '沒有這則訊息',
  'delete.relayDown': '目前連不上中繼站；你的其他裝置會在下次執行時得知',
  'delete.message': '已刪除和 {alias} 的訊息 {id}（只刪你這邊，你所有的裝置都會刪除）。',
  'delete.chat': '已刪除和 {alias} 的對話（只刪你這邊，你所有的裝置都會刪除）。',
  'search.friend': '好友  {alias}（{name}）',
  'search.group': '群組  {name}  {id}',
  'usage.search': '用法：parus search TEXT [--limit N]',
  'search.limit': '--limit 需要整數',
  'search.none': '找不到符合的結果。',
  'chat.meUsage': '用法：/me TEXT',
  'chat.stickerUsage': '用法：/sticker ID | 名稱 | PACK/ID（/stickers 列出全部）',
  'sticker.unknown': '沒有叫 {name} 的貼圖：/stickers 列出全部，其他組的貼圖用 PACK/ID 傳送',
  'sticker.noPack': '沒有叫 {pack} 的貼圖組：/stickers 列出全部',
  'sticker.listHint':
    '/stickers PACK 顯示名稱；/sticker ID 傳送（第一個有它的組），/sticker PACK/ID 指定那一組',
  'sticker.sendHint': '傳送範例：{example}',
  'file.progress': '{label}：{pct}%（{done} / {total}）',
  'format.voice': '[語音訊息 {time}，{name}，{size}]',
  'call.video': '視訊通話',
  'call.voice': '語音通話',
  'call.answered': '[{kind} 通話時間 {time}]',
  'call.missedIn': '{who} 的未接來電（{kind}）',
  'call.missedOut': '{kind}：對方未接聽',
  'call.declined': '{kind}：通話已拒絕',
  'call.busy': '{kind}：對方忙線中',
  'call.failed': '{kind}：通話失敗',
  'format.read': '已讀',
  'format.readCount': '已讀 {count}',
  'format.late': '（晚到的訊息，{count}/{needed} 人確認 — parus group confirm {group} {id}）',
  'format.lateConfirmed': '（晚到的訊息，已有 {count} 人確認）',
  'format.earlier': '（先前的聊天記錄）',
  'format.pinged': '{who} 呼叫了大家',
  'contact.validated': '✔ 已驗證',
  'contact.compromised': '✘ 已遭破解',
  'contact.unvalidated': '? 未驗證',
  'contact.pending': '（等待對方回覆）',
  'contact.keyChanged': '⚠ 金鑰已變更',
  'outbox.waits': '目前連不上中繼站；這會留在寄件匣，下次執行時送出',
  'group.invitation': '✉ {name}  {from} 邀請你加入 — parus group join {id}',
  'group.members': '{count} 位成員',
  'group.membersRole': '{count} 位成員，你是{role}',
  'group.removed': '已被移出（踢出或封鎖）',
  'group.leftState': '已退出',
  'group.sharingOn': '分享聊天記錄：開啟',
  'group.topicLine': '主題：{topic}',
  'group.you': '（你）',
  'group.noSession': '（尚未建立連線）',
  'role.creator': '建立者',
  'role.admin': '管理員',
  'role.moderator': '版主',
  'role.member': '成員',
  'usage.generic': '用法：{usage}',
  'usage.group': `用法：
  {help}`,
  'group.createdRoom': '已建立公開聊天室 {name}（id {id}）。分享連結：parus group link {name}',
  'group.created': '已建立群組 {name}（id {id}）。邀請成員：parus group invite {name} ALIAS',
  'group.invited': '已邀請 {alias} 加入 {name}。',
  'group.none': '還沒有群組。',
  'group.wait': '--wait 需要 0 到 3600 的整數秒數',
  'group.joined': '已加入 {name}。',
  'group.declined': '已婉拒 {name} 的邀請。',
  'group.aliased': '群組 {id} 在這裡的名稱改為 {alias}。',
  'group.left': '你已退出 {name}。',
  'group.kicked': '已將 {member} 移出 {name}。',
  'group.banned': '已在 {name} 封鎖 {member}。',
  'group.unbanned': '已在 {name} 解除封鎖 {member}。',
  'group.roleSet': '{member} 現在是 {name} 的{role}。',
  'group.nickSet': '你的暱稱已改為：{text}',
  'group.nameSet': '群組名稱已改為：{text}',
  'group.topicSet': '主題已改為：{text}',
  'group.avatarSet': '已設定 {name} 的群組頭像，每位成員都會看到。',
  'group.avatarRemoved': '已移除 {name} 的群組頭像。',
  'group.avatarBoth': '請給一個圖檔 FILE，或 --none（擇一）',
  'group.sharingOnSet': '{name} 已開啟分享聊天記錄：新成員會收到從現在起的訊息。',
  'group.sharingOffSet': '{name} 已關閉分享聊天記錄：新成員只看得到加入後的訊息。',
  'group.unknown': `沒有 group {sub} 這個指令
  {help}`,
  'group.chatHelp': `輸入訊息後按 Enter 傳到群組。
  /me ACTION          動作（「* 你 揮手」）
  /topic TEXT         設定主題（版主以上）
  /nick NICK          你在這個群組的暱稱
  /invite ALIAS       邀請聯絡人
  /kick MEMBER        移出成員（版主以上）
  /ban MEMBER         封鎖成員（版主以上）
  /op MEMBER [ROLE]   讓成員成為版主，或給予 ROLE（admin|moderator|member）
  /confirm MSGID      確認一則標為晚到的訊息（它的 #id）
  /sticker ID         傳送貼圖（代號、名稱或 PACK/ID）；/stickers [PACK] 列出貼圖
  /help  /quit`,
  'group.change': '（{change}）',
  'group.banner': '— {name}；輸入 /help 查看說明 —',
  'group.bannerTopic': '— {name}：{topic}；輸入 /help 查看說明 —',
  'group.nickNow': '你的暱稱已改為 {nick}',
  'group.invitedShort': '已邀請 {alias}',
  'group.kickedShort': '已移出 {member}',
  'group.bannedShort': '已封鎖 {member}',
  'group.opUsage': '用法：/op MEMBER [ROLE]',
  'group.roleNow': '{member} 現在是{role}',
  'group.confirmUsage': '用法：/confirm MSGID',
  'group.confirmedPlaced': '已確認：訊息移到它應在的位置',
  'group.confirmedCount': '已確認（{count}/{needed}）',
  'request.line': '☎ {group} 的 {from} 想和你私聊{note} — parus requests accept {id} --alias NAME',
  'room.link': '{name} 的聊天室連結：',
  'room.linkRotated': '{name} 的聊天室連結（新的：之前的連結已失效）：',
  'refusal.linkInvalid': '連結已失效（請向成員索取目前的連結）',
  'refusal.notAllowed': '你不能加入這個聊天室',
  'refusal.tooMany': '現在加入的人太多，請稍後再試',
  'refusal.line': '✗ {name}：聊天室拒絕了加入 — {why}。要略過請執行：parus group decline {id}',
  'room.asked': '已申請加入 {name}（id {id}）；聊天室回覆後你就加入了（請看 parus read）。',
  'request.asked': '已向 {member} 提出私聊。對方接受後，會出現在 parus contacts 裡。',
  'request.none': '沒有私聊邀請。',
  'request.accepted': '{alias} 已成為聯絡人（未驗證）。開始聊天：parus chat {alias}',
  'request.declined': '已婉拒。',
  'request.unknown': `沒有 requests {sub} 這個指令
  {help}`,
  'link.forged': '這個連結驗證失敗：內容被改過或是偽造的',
  'link.malformed': '這不是有效的 parus: 連結（請完整複製）',
  'link.unreachable': '目前連不上這個連結的中繼站，請稍後再試',
  'device.badName': '裝置名稱{problem}',
  'device.current': '（這台裝置）',
  'device.revoked': '（已撤銷）',
  'device.otherPassphrase':
    '帳號密碼已在另一台裝置上變更。請在這裡執行 `parus passphrase`（先輸入這台裝置的密碼，再輸入新的帳號密碼），這台裝置也改用它；撤銷與連結裝置都需要它。',
  'device.waiting':
    '這裡做的 {n} 項變更與另一台裝置的變更衝突而落選，正等待用帳號密碼重新簽署（下次用帳號密碼開啟這台裝置的指令會完成）。',
  'device.toldLater': '聯絡人會在下次同步時得知：{error}',
  'device.revokedLine': '已撤銷 {id}（{name}）。',
  'backup.cannotCreate': '無法建立 {path}（可能已經存在）',
  'backup.written': '已把 {contacts} 位聯絡人和 {messages} 則訊息的備份寫入 {path}（{bytes} 位元組）。',
  'device.notReached': '還連絡不上聯絡人：{error}',
  'backup.tooLarge': '備份檔太大',
  'restore.done': '已在 {home} 把 {name} 的帳號還原成新裝置 {device}。',
  'restore.counts': '裝置：{devices}；聯絡人：{contacts}；訊息：{messages}。',
  'restore.waiting': '有 {count} 位聯絡人要等連得上時才會通知（parus sync 會再試）。',
  'link.code': '驗證碼：{code}。請確認另一台裝置顯示相同的驗證碼。',
  'link.sameCode': '兩台裝置的驗證碼相同嗎？[y/N] ',
  'usage.initLink': '用法：parus init --link --name NAME --relay ADDRESS（由這個中繼站傳送連結）',
  'link.runThere': '請在你帳號的另一台裝置上執行：',
  'link.linked': '連結完成：這台裝置（{device}）已成為 {name} 帳號的裝置，資料在 {home}。',
  'link.history': '帶過來的聊天記錄：{messages} 則訊息。',
  'link.answered': '已把 {name}（{id}）連結到這個帳號（{messages} 則聊天記錄）。',
  'home.testKdf': 'parus：已設定 {name}：這個帳號只受輕量的測試參數保護',
  'file.cannotSave': '無法儲存檔案',
  'file.escapes': '檔名會跑出檔案資料夾',
  'file.tooMany': '同名的檔案太多',
  'error.wholeNumber': '--{name} 必須是整數',
  'relay.limitName': '--limit 需要 NAME=VALUE，NAME 是中繼站限制的名稱，而不是 {pair}',
  'relay.limitValue': '--limit {name} 需要正數',
  'relay.turnPair': '--turn 和 --turn-secret 必須一起使用',
  'relay.joinAddress': '--join 需要中繼站地址（parus://<fingerprint>@host:port），而不是 {address}',
  'relay.running': 'Parus 中繼站執行中。',
  'relay.start': '開始聊天（在另一個終端機）：',
  'relay.startInvite': '印出要給朋友的連結和 QR 碼',
  'relay.startAccept': '在朋友那邊執行',
  'relay.stop': '按 Ctrl+C 停止。',
  'relay.statusTarget': 'parus relay status 需要中繼站地址、http://host:port 或 host:port',
  'relay.answered': '中繼站回應 {status}',
  'relay.cannotRead': '無法讀取 {url}',
  'relay.otherFingerprint': '那個地址的中繼站指紋和地址裡的不一樣',
  'relay.none': '（無）',
  'relay.noneWord': '無',
  'relay.known': '中繼站：  已知 {relays} 個，雲裡有 {links} 條連線',
  'relay.cloudLinks': '雲裡的連線：',
  'relay.routes': '路由：',
  'relay.route': '{to} 經由 {via}（{hops} 跳）',
  'relay.forwards': '轉送：    暫存 {held}，轉送 {forwarded}，在此送達 {delivered}',
  'error.options': '選項有誤：{detail}',
  'relayRun.address': '  地址：    {value}',
  'relayRun.web': '  網頁版：  {value}（用瀏覽器開啟即可聊天）',
  'relayRun.health': '  健康檢查：{value}',
  'relayRun.status': '  狀態：    {value}',
  'relayRun.joining': '  連上：    {value}',
  'relayRun.turn': '  TURN：    {value}',
  'relayRun.bus': '  匯流排：  redis {value}',
  'relayRun.store': '  儲存：    postgres（與其他使用它的中繼站程序共用）',
  'relayRun.blobsPostgres': '  檔案：    postgres',
  'relayRun.blobsFolder': '  檔案：    {value}（共用資料夾）',
  'relayRun.data': '  資料：    {value}',
  'relayRun.small': '  設定檔：  small（較低的限制與快取，適合 512 MB 的開發板）',
  'relayStatus.relay': '中繼站：  {value}',
  'relayStatus.version': '版本：    {version}   已執行：{uptime} 秒',
  'relayStatus.users': '使用者：  {users}   佇列：{queues}',
  'relayStatus.store': '儲存：    {store}   檔案：{blobs}',
  'relayStatus.busUp': '行程：    {process}，透過 Redis 匯流排與其他行程協作（已連線）',
  'relayStatus.busDown': '行程：    {process}，透過 Redis 匯流排與其他行程協作（未連線）',
  'relayStatus.links': '連線：    {value}',
  'relayStatus.bridges': '橋接：    {value}',
};
