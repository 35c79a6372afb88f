#!/usr/bin/env bash
# Recorder benchmark: the same workloads, in one run, through no recorder,
# a relay that records nothing (tests/bench/relay.c: the cost of the second
# pty hop alone), script(1), Debian's tlog-rec and vigil-rec (chain and
# signatures on). Prints each figure and vigil-rec's ratios against the
# targets of issue 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$PWD/bin}
MB=${BENCH_MB:-100}
RUNS=${BENCH_RUNS:-3}
work=$(mktemp -d /tmp/vigil-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

go build -o "$work/ptybench" ./tests/bench/ptybench
gcc -O2 -Wall -Wextra -Werror -o "$work/relay" tests/bench/relay.c -lutil
# ~MB of base64 text (the design's workload: terminal text, long lines).
head -c $((MB * 1024 * 1024 * 3 / 4)) /dev/urandom | base64 -w 76 > "$work/text"
# A throwaway signing key, so vigil-rec signs as in production.
"$BIN/vigil-rec" --help >/dev/null
go run ./tests/tools/keygen "$work/key" >/dev/null
mkdir -p "$work/vigil" "$work/tlog"
# tlog-rec refuses to run without a writable utmp: give it one in a private
# mount namespace (tmpfs on /run) instead of touching the host.
tlog_rec=(unshare -m --propagation private sh -c 'mount -t tmpfs -o mode=755 tmpfs /run && install -m 664 -g utmp /dev/null /run/utmp && exec "$0" "$@"' tlog-rec)

declare -A wall cpu rss logsz
run_tp() { # name cmd...: one run, kept if it is the best so far
	local name=$1; shift
	rm -rf "$work/vigil"/* "$work/tlog"/*
	sync
	out=$("$work/ptybench" -mode throughput "$@")
	w=$(sed -E 's/.*wall_s=([0-9.]+).*/\1/' <<<"$out")
	if [ -z "${wall[$name]:-}" ] || awk "BEGIN{exit !($w < ${wall[$name]})}"; then
		wall[$name]=$w
		cpu[$name]=$(sed -E 's/.*cpu_s=([0-9.]+).*/\1/' <<<"$out")
		rss[$name]=$(sed -E 's/.*maxrss_kib=([0-9]+).*/\1/' <<<"$out")
		outb=$(sed -E 's/.*out_bytes=([0-9]+).*/\1/' <<<"$out")
		logsz[$name]=$(find "$work/vigil" "$work/tlog" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
	fi
}

echo "== throughput: $(du -m "$work/text" | cut -f1) MB of text through a pty, best of $RUNS rounds"
# Rounds over all recorders rather than runs of one after the other, so
# that a machine whose speed drifts favours none of them.
for _ in $(seq "$RUNS"); do
	run_tp bare cat "$work/text"
	run_tp relay "$work/relay" cat "$work/text"
	run_tp script script -q -c "cat $work/text" /dev/null
	run_tp tlog-rec "${tlog_rec[@]}" -w file -o "$work/tlog/t.log" -- cat "$work/text"
	run_tp vigil-rec "$BIN/vigil-rec" --config /dev/null --limit-action=pass -w file -o "$work/vigil/" --sign-key "$work/key" -- cat "$work/text"
	# A larger payload than tlog's default (2048) shows the log-size
	# trade-off of tlog's ~230 bytes of metadata per message.
	run_tp vigil-4k "$BIN/vigil-rec" --config /dev/null --limit-action=pass -w file -o "$work/vigil/" --sign-key "$work/key" --payload 4096 -- cat "$work/text"
done
for name in bare relay script tlog-rec vigil-rec vigil-4k; do
	printf '%-10s wall %6.2fs  cpu %6.2fs  maxrss %6d KiB  log %6.4fx output\n' "$name" "${wall[$name]}" "${cpu[$name]}" "${rss[$name]}" \
		"$(awk "BEGIN{print ${logsz[$name]}/$outb}")"
done

echo "== keystroke echo round trip through an interactive cat (5000 keys, back to back)"
declare -A p50 p99
run_echo() {
	local name=$1; shift
	out=$("$work/ptybench" -mode echo -gap 0 -n 5000 "$@")
	p50[$name]=$(sed -E 's/.*echo_p50_us=([0-9]+).*/\1/' <<<"$out")
	p99[$name]=$(sed -E 's/.*echo_p99_us=([0-9]+).*/\1/' <<<"$out")
	cpk=$(sed -E 's/.*cpu_us_per_key=([0-9.]+).*/\1/' <<<"$out")
	printf '%-10s p50 %5d us  p99 %5d us  cpu %5.1f us/key (the command, not cat)\n' "$name" "${p50[$name]}" "${p99[$name]}" "$cpk"
}
run_echo bare cat
run_echo relay "$work/relay" cat
# script(1) leaves ECHO on its own pty: the line discipline there echoes the
# key before cat does, so its figure skips cat's round trip.
run_echo script script -q -c cat /dev/null
run_echo tlog-rec "${tlog_rec[@]}" -w file -o "$work/tlog/e.log" -- cat
run_echo vigil-rec "$BIN/vigil-rec" --config /dev/null --limit-action=pass -w file -o "$work/vigil/" --sign-key "$work/key" -- cat

r() { awk "BEGIN{printf \"%.2f\", $1/$2}"; }
echo "== vigil-rec against the targets"
echo "wall vs bare pty:   $(r "${wall[vigil-rec]}" "${wall[bare]}")x   (target <= 1.30x; the relay that records nothing: $(r "${wall[relay]}" "${wall[bare]}")x)"
echo "wall vs relay:      $(r "${wall[vigil-rec]}" "${wall[relay]}")x"
echo "wall vs script(1):  $(r "${wall[vigil-rec]}" "${wall[script]}")x"
echo "tlog-rec vs vigil:  $(r "${wall[tlog-rec]}" "${wall[vigil-rec]}")x faster (target >= 3x; tlog-rec vs the relay: $(r "${wall[tlog-rec]}" "${wall[relay]}")x)"
echo "echo p50 / p99:     ${p50[vigil-rec]} / ${p99[vigil-rec]} us (target <= 60 / 300 us; the relay: ${p50[relay]} / ${p99[relay]} us)"
echo "peak RSS:           $((rss[vigil-rec] / 1024)) MiB (target <= 16 MiB)"
echo "log size:           $(awk "BEGIN{printf \"%.4f\", ${logsz[vigil-rec]}/$outb}")x output at payload 2048, $(r "${logsz[vigil-4k]}" "$outb")x at 4096 (target <= 1.15x)"
