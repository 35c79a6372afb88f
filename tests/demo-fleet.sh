#!/usr/bin/env bash
# make demo-fleet: three hosts ship their recorded sessions live to a
# collector on PostgreSQL. `vigil-collector dev` makes the private
# PostgreSQL cluster and the CA in a temporary directory; a second collector
# process (`vigil-collector serve`, sharing that database) is the one the
# hosts ship to, and is killed with SIGKILL mid-session to show that
# nothing is lost. Each host has its own name (a private UTS namespace),
# signing key and recording directory; sessions are recorded by vigil-rec
# and shipped by vigil-ship. Then: list and search across the three hosts,
# a forged recording refused, and every recording verified. Loopback only;
# the host's own configuration is not touched. Run as root (PostgreSQL then
# runs as nobody).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
w=$(mktemp -d /tmp/vigil-fleet-demo.XXXXXX)
chmod 755 "$w"
# vigil-play's caches go with the demo, not into root's home.
export XDG_CACHE_HOME="$w/cache"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$w"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
hosts=(web1.demo db1.demo ci1.demo)

say "vigil-collector dev: a private PostgreSQL cluster and a CA in $w/dev"
"$BIN/vigil-collector" dev --dir "$w/dev" --listen "127.0.0.1:$(free_port)" \
	--host "${hosts[0]}" --host "${hosts[1]}" --host "${hosts[2]}" >"$w/dev.out" 2>"$w/dev.log" &
pids+=($!)
for _ in $(seq 300); do grep -q '^Serving' "$w/dev.out" 2>/dev/null && break; sleep 0.1; done
cat "$w/dev.out"
export VIGIL_COLLECTOR_DB
VIGIL_COLLECTOR_DB=$(sed -n 's/.*export VIGIL_COLLECTOR_DB="\([^"]*\)".*/\1/p' "$w/dev.out")
ca=$w/dev/ca.pem
sock=$w/dev/read.sock

port=$(free_port)
url=https://127.0.0.1:$port
collector() {
	"$BIN/vigil-collector" serve --listen "127.0.0.1:$port" --cert "$w/dev/server.pem" --key "$w/dev/server.key" 2>>"$w/collector.log" &
	collector_pid=$!
	pids+=($collector_pid)
	for _ in $(seq 100); do grep -q 'msg=serving' "$w/collector.log" && break; sleep 0.1; done
}
say "a second collector on the same database, $url: the hosts ship to it"
collector

for h in "${hosts[@]}"; do
	d=$w/$h
	mkdir -p "$d/rec"
	touch "$d/rec.toml"
	"$BIN/vigil-play" keygen "$d/key" >/dev/null
	token=$(sed -n "s/.*--host $h --token \([0-9a-f]*\)$/\1/p" "$w/dev.out")
	say "$h: enroll its signing key, start vigil-ship"
	"$BIN/vigil-ship" enroll --collector "$url" --ca "$ca" --key "$d/key" --host "$h" --token "$token"
	"$BIN/vigil-ship" --collector "$url" --ca "$ca" --key "$d/key" --host "$h" --dir "$d/rec" 2>"$d/ship.log" &
	pids+=($!)
done

session() { # host, commands: a session recorded by vigil-rec on that host
	local d=$w/$1
	unshare -u sh -c "hostname $1; script -q -e -c \"$BIN/vigil-rec --config $d/rec.toml --latency 1 -o $d/rec/ --sign-key $d/key -- bash -c '$2'\" /dev/null" >/dev/null
}
say "recorded sessions on the three hosts, shipped as they are written"
sessions=()
session web1.demo 'echo deploying release 42; sleep 1; ls -l /etc/hostname; echo done deploying' &
sessions+=($!)
session db1.demo 'echo vacuum analyze; sleep 2; echo deploying schema 7; sleep 1' &
sessions+=($!)
session ci1.demo 'for i in 1 2 3 4 5 6; do echo build step $i; sleep 0.5; done; echo deploying artefacts' &
sessions+=($!)
sleep 1.2
say "the collector killed with SIGKILL while the sessions run"
kill -9 "$collector_pid"
sleep 1.5
say "and started again: the hosts resume from what it acknowledged"
collector
wait "${sessions[@]}"
sleep 2

say "vigil-play list --server $sock --json (the collector's local socket)"
"$BIN/vigil-play" list --server "$sock" --json
say "vigil-play search --server: 'deploying' across all three hosts"
"$BIN/vigil-play" search --server "$sock" deploying

say "a forged recording: db1.demo ships one of web1.demo's recordings"
cp "$(ls "$w/web1.demo/rec/"*.jsonl | head -1)" "$w/db1.demo/rec/"
sleep 2
grep -h 'request refused' "$w/collector.log" | grep 'another host' | head -1
"$BIN/vigil-play" list --server "$sock" --host db1.demo

say "every recording, fetched from the collector and verified here against each host's enrolled key"
"$BIN/vigil-play" verify --server "$sock"
say "each host's files compared with the collector's copies: nothing lost, nothing changed"
for h in "${hosts[@]}"; do
	for f in "$w/$h/rec/"*.jsonl; do
		[ "$h" = db1.demo ] && grep -q '"host":"web1.demo"' "$f" && continue # the forged one
		"$BIN/vigil-play" verify --server "$sock" --compare "$f"
	done
done
say "done: the collectors, PostgreSQL and every file go away now"
