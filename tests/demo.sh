#!/usr/bin/env bash
# make demo: record a scripted interactive session with vigil-rec on a real
# pty, show it with vigil-play (verify, list, asciicast export), replay it
# with Debian's tlog-play (the compatibility oracle), and show a one-byte
# edit being detected. Touches nothing outside a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin
demo=$(mktemp -d /tmp/vigil-demo.XXXXXX)
trap 'rm -rf "$demo"' EXIT
mkdir -p "$demo/rec"
go build -o "$demo/" ./tests/tools/keygen
"$demo/keygen" "$demo/signing.key" >/dev/null

cat > "$demo/session.sh" <<'SH'
echo "hello from a recorded session"; sleep 0.3
printf 'colours: \033[1;32mgreen\033[0m, unicode: é€😀, invalid: \377\376\n'; sleep 0.3
ls -ld / /tmp; sleep 0.3
stty size
SH
echo "== recording: vigil-rec -o $demo/rec/ -- sh $demo/session.sh (on a pty)"
sleep 2 | script -q -e -c "stty rows 30 cols 100; $BIN/vigil-rec --config /dev/null --latency 1 -o $demo/rec/ --sign-key $demo/signing.key -- sh $demo/session.sh" /dev/null
f=$(ls "$demo"/rec/*.jsonl)
echo
echo "== recording file"
ls -l "$f"
echo "-- first message:"
head -n 1 "$f" | cut -c 1-400
echo
echo "== integrity"
"$BIN/vigil-play" verify -k "$demo/signing.key.pub" "$f"
echo
echo "== vigil-play list"
"$BIN/vigil-play" list -k "$demo/signing.key.pub" "$demo/rec"
echo
echo "== vigil-play export --format asciicast (first lines)"
"$BIN/vigil-play" export --format asciicast "$f" | head -n 4
echo
echo "== vigil-play search unicode"
"$BIN/vigil-play" search unicode "$demo/rec"
echo
echo "== vigil-play export --format text"
"$BIN/vigil-play" export --format text "$f"
echo
echo "== replay with Debian's tlog-play"
script -q -e -c "tlog-play -i $f" /dev/null | tr -d '\000'
echo
echo "== tampering: flip one byte of the recording and verify again"
python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
i = b.index(b'hello')
b[i] = ord('j')
open(p, 'wb').write(b)
PY
"$BIN/vigil-play" verify -k "$demo/signing.key.pub" "$f" || echo "(vigil-play verify exited $?: tampering detected)"
