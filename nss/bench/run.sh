#!/bin/sh
# Builds libnss_vigil.so.2 and getpw_bench into a temporary directory and
# measures getpwnam_r through "vigil files" against "files" alone, with a
# 10,000-entry snapshot. Nothing on the host changes: the module is found
# through LD_LIBRARY_PATH and reads the snapshot named by VIGIL_NSS_SNAPSHOT.
#
# usage: nss/bench/run.sh [RECORDED [UNRECORDED]]   (ITERS=N to change the count)
# Defaults: root, and the last user of /etc/passwd (files' slowest case).
set -eu
cd "$(dirname "$0")/../.."
rec=${1:-root}
unrec=${2:-$(tail -n 1 /etc/passwd | cut -d: -f1)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

gcc -O2 -g -fPIC -shared -Wall -Wextra -Werror -fvisibility=hidden \
	-Wl,-soname,libnss_vigil.so.2 -o "$tmp/libnss_vigil.so.2" nss/src/*.c
gcc -O2 -Wall -Wextra -Werror -o "$tmp/getpw_bench" nss/bench/getpw_bench.c
${GO:-go} run ./nss/bench/mksnap -o "$tmp/nss.snapshot" -n 10000 -record "$rec"

echo "snapshot: 10000 entries ($(stat -c %s "$tmp/nss.snapshot") bytes); /etc/passwd: $(wc -l </etc/passwd) lines; recorded $rec, unrecorded $unrec"
# The socket path does not exist: both users are in the snapshot, so a
# lookup that reached the socket would be a bug, not a slow path.
VIGIL_NSS_SNAPSHOT="$tmp/nss.snapshot" VIGIL_NSS_SOCKET="$tmp/absent.sock" LD_LIBRARY_PATH="$tmp" \
	"$tmp/getpw_bench" "$rec" "$unrec" "${ITERS:-100000}"
