/** The CLI's Traditional Chinese messages: the same keys as en.ts (docs/decisions/0043). */
import type { MessageKey } from './en.ts';

export const ZH_TW: Record<MessageKey, string> = {
  'help.relay': `parus relay [--host H] [--port N] [--public-host NAME] [--data DIR] [--web DIR] [--small]
             [--limit NAME=VALUE]... [--join ADDRESS]... [--note TEXT]
             [--turn URL... --turn-secret FILE] [--store postgres://USER@HOST:PORT/DB --key-secret FILE]
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
parus relay status [ADDRESS]
  顯示中繼站的狀態：連線、已知的中繼站、路由、使用者與佇列（預設 127.0.0.1:7400）。
parus relay add ADDRESS                  也在第二個中繼站收訊息（備援），並通知聯絡人`,
  'help.group': `parus group create NAME [--public]       建立私人群組（--public：用連結加入的公開聊天室）
  parus group invite GROUP ALIAS           邀請一位聯絡人
  parus group link GROUP [--rotate] [--qr FILE]
                                           公開聊天室的連結（--rotate：舊連結失效）
  parus group list                         群組與待回覆的邀請（含 id）
  parus group join ID|LINK [--nick N]      接受邀請，或用連結加入公開聊天室
    [--wait SECONDS]                       （連結：等到聊天室的門口回覆）
  parus group decline ID                   拒絕邀請（或放棄加入聊天室）
  parus group chat GROUP MEMBER [--note T] 請一位成員和你私聊
  parus group alias ID NAME                群組在這台裝置上的名稱
  parus group members GROUP                成員與身分
  parus group send GROUP TEXT [--me|--ping] 在群組發言
  parus group send-file GROUP PATH [--name N] [--mime TYPE]
                                           傳送照片或檔案到群組
  parus group topic GROUP TEXT | name GROUP TEXT | nick GROUP NICK
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
  parus passphrase                         變更這台裝置開啟帳號用的密碼
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
  'passphrase.changed': '密碼已變更。從現在起，這台裝置請使用新密碼。',
  'usage.passphrase': '用法：parus passphrase',
  'usage.profile': '用法：parus profile [--name 名稱] [--avatar 檔案 | --no-avatar]',
  'profile.name': '名稱：{name}',
  'profile.avatar': '大頭貼：{state}',
  'profile.avatarSet': '已設定',
  'profile.avatarNone': '未設定',
  'profile.sent': '已傳給你的好友和你的其他裝置（離線的好友之後會收到）。',
  'profile.unreadable': '無法讀取 {file}',
  'profile.notImage': '{file} 不是 JPEG 或 PNG 圖片',
  'profile.tooLarge': '{file} 無法縮成 48 KiB 以內的大頭貼',
  'profile.bothAvatar': '--avatar 與 --no-avatar 只能選一個',
  'passphrase.cancelled': '已取消',
  'home.noAccount': '{home} 裡沒有帳號：請先執行 parus init',
  'home.exists': '{home} 裡已經有一個帳號',
  'usage.send': '用法：parus send ALIAS TEXT | parus send ALIAS --sticker ID [--pack PACK]',
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
  /sticker ID    內建貼圖（hello、thanks、ok、haha……）
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
  'format.photo': '[照片 {name}，{width}×{height}，{size}]',
  'format.me': '我',
  'format.failed': '✗ 未送達',
};
