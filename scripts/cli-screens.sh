#!/usr/bin/env bash
# Text captures of the CLI for the user guides (docs/screenshots/cli-*.txt): `parus --help`,
# `parus read` and `parus chat` in English and zh-TW, from two throwaway accounts on a relay of
# their own on loopback (the light test Argon2id profile). Run from the repository's root:
#   bash scripts/cli-screens.sh
set -euo pipefail
BIN="$PWD/packages/cli/bin/parus.js"
OUT="$PWD/docs/screenshots"
DIR="$(mktemp -d)"
export PARUS_INSECURE_TEST_KDF=1 LC_ALL= LC_MESSAGES=
relay_out="$DIR/relay.out"
node "$BIN" relay --port 0 --data "$DIR/relay" --json >"$relay_out" 2>/dev/null &
RELAY=$!
trap 'kill $RELAY 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 600); do grep -q address "$relay_out" 2>/dev/null && break; sleep 0.1; done
ADDR="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").split("\n")[0]).address)' "$relay_out")"
p() { # p WHO LANG ARGS... — runs parus as WHO in LANG
  local who="$1" lang="$2"
  shift 2
  PARUS_HOME="$DIR/$who" PARUS_PASSPHRASE="$who passphrase 42" LANG="$lang" node "$BIN" "$@"
}
p alice C.UTF-8 init --name '陳愛麗' --relay "$ADDR" >/dev/null
p bob C.UTF-8 init --name 'Bob' --relay "$ADDR" >/dev/null
link="$(p alice C.UTF-8 invite --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).link))')"
p bob C.UTF-8 accept "$link" --alias ally >/dev/null
p alice C.UTF-8 read >/dev/null
# Times in the captures are the machine's; names and texts are what a user would see.
bob_says() {
  p bob C.UTF-8 send ally "$1" >/dev/null
  p bob C.UTF-8 send ally --sticker cheer --pack barbet >/dev/null
  p bob C.UTF-8 send ally "$2" >/dev/null
}
p alice C.UTF-8 --help >"$OUT/cli-en-help.txt"
p alice zh_TW.UTF-8 --help >"$OUT/cli-zh-TW-help.txt"
bob_says 'Birding at Yangmingshan on Saturday?' 'I saw a Taiwan blue magpie there last week'
p alice C.UTF-8 read >"$OUT/cli-en-read.txt"
bob_says '週六去陽明山賞鳥嗎？' '上週在那裡看到臺灣藍鵲'
p alice zh_TW.UTF-8 read >"$OUT/cli-zh-TW-read.txt"
printf '/help\n/stickers\n/sticker 加油\nSee you at 7 at the bus stop\n/quit\n' |
  p alice C.UTF-8 chat Bob >"$OUT/cli-en-chat.txt"
printf '/help\n/stickers 臺灣藍鵲\n/sticker 早安\n早上七點公車站見\n/quit\n' |
  p alice zh_TW.UTF-8 chat Bob >"$OUT/cli-zh-TW-chat.txt"
echo "wrote $OUT/cli-{en,zh-TW}-{help,read,chat}.txt"
