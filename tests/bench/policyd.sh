#!/usr/bin/env bash
# policyd benchmark (issue 4): a host with 10,000 users, 1,000 groups and a
# policy of 500 rules, in a private mount namespace (the host's /etc, /run
# and /var/lib stay untouched). policyd runs on CPU 0, the client on CPU 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$PWD/bin}
if [ -z "${VIGIL_BENCH_INNER:-}" ]; then
	exec env VIGIL_BENCH_INNER=1 unshare -m --propagation private "$0" "$@"
fi
work=$(mktemp -d /tmp/vigil-policyd-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/" ./tests/bench/policydbench ./tests/tools/busconf
cp -a /etc "$work/etc"
# 10,000 users in 1,000 groups (10 members each, plus each user's primary).
awk 'BEGIN {
	for (i = 0; i < 10000; i++) printf "u%05d:x:%d:%d::/home/u%05d:/bin/bash\n", i, 100000 + i, 200000 + (i % 1000), i
}' >> "$work/etc/passwd"
awk 'BEGIN {
	for (g = 0; g < 1000; g++) {
		printf "g%04d:x:%d:", g, 200000 + g
		for (k = 0; k < 10; k++) printf "%su%05d", (k ? "," : ""), (g * 10 + k + 5000) % 10000
		printf "\n"
	}
}' >> "$work/etc/group"
# 500 rules over users, groups and services; scope some as the fallback.
{
	printf '[session_recording]\nscope = "some"\ngroups = ["g0001", "g0002"]\n'
	for i in $(seq 0 499); do
		action=record; [ $((i % 3)) = 0 ] && action=norecord
		printf '[[rule]]\nname = "r%03d"\naction = "%s"\npriority = %d\nusers = ["u%05d", "u%05d"]\ngroups = ["g%04d"]\nservices = ["sshd", "su"]\n' \
			"$i" "$action" $((i % 50)) $((i * 7)) $((i * 13)) $((i * 2))
		[ $((i % 5)) = 0 ] && printf '[rule.rec]\nlog.input = true\n'
	done
} > "$work/policy.toml"
mount --bind "$work/etc" /etc
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=755 tmpfs /var/lib
mkdir -p "$work/bus/system.d"
ln -s "$PWD/policyd/dbus/io.vigil.Policy1.conf" "$work/bus/system.d/"
"$work/busconf" "$work/bus/socket" "$work/bus/system.d" > "$work/bus/bus.conf"
dbus-daemon --nofork --nopidfile --config-file="$work/bus/bus.conf" 2>/dev/null &
pids+=($!)
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$work/bus/socket
for _ in $(seq 100); do [ -S "$work/bus/socket" ] && break; sleep 0.05; done
taskset -c 0 "$BIN/vigil-policyd" --policy "$work/policy.toml" --poll 0 2>"$work/policyd.log" &
pids+=($!)
for _ in $(seq 200); do "$BIN/vigilctl" status >/dev/null 2>&1 && break; sleep 0.05; done
"$BIN/vigilctl" status | sed -n '1,6p'
echo "policy: $(grep -c '^\[\[rule\]\]' "$work/policy.toml") rules; $(wc -l < /etc/passwd) passwd lines; $(wc -l < /etc/group) groups"
taskset -c 1 "$work/policydbench" -mode socket -n 100000
taskset -c 1 "$work/policydbench" -mode socket -n 300000 -conns 8
taskset -c 1 "$work/policydbench" -mode dbus -n 5000
taskset -c 1 "$work/policydbench" -mode dbus -n 1000 -connect-per-call
taskset -c 1 "$work/policydbench" -mode reload -n 10
grep -o 'took=[0-9.]*m\?s' "$work/policyd.log" | tail -3 | tr '\n' ' '; echo "(policyd's own reload timings)"
