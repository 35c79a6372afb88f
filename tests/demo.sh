#!/usr/bin/env bash
# make demo: a real recorded login. In a private mount namespace (the host's
# /etc, /run, /var and /home stay untouched) it sets up Vigil as an admin
# would — users, the NSS module first on the passwd line, pam_vigil in
# sshd's session stack, the setuid recorder, a signing key, dbus-daemon and
# vigil-policyd with the example policy, sshd on 127.0.0.1 — then logs in
# over ssh as a recorded and an unrecorded user, lists and verifies the
# recordings and replays the recorded one at high speed. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin}
if [ -z "${VIGIL_DEMO_INNER:-}" ]; then
	exec env VIGIL_DEMO_INNER=1 unshare -m --propagation private "$0" "$@"
fi
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
w=$(mktemp -d /tmp/vigil-demo.XXXXXX)
chmod 755 "$w"
# vigil-play's caches (list, seeking index) go with the demo, not into root's home.
export XDG_CACHE_HOME="$w/cache"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$w"; }
trap cleanup EXIT
PW=vigil-demo-pw

say "setting up a host in a private mount namespace ($w)"
go build -o "$w/" ./tests/tools/busconf
cp -a /etc "$w/etc"
cat >> "$w/etc/passwd" <<EOF
vigil:x:64500:64500:Vigil recorder:/nonexistent:/usr/sbin/nologin
alice:x:64501:64501:Alice (recorded):/home/alice:/bin/bash
bob:x:64502:64502:Bob (not recorded):/home/bob:/bin/bash
EOF
printf 'vigil:x:64500:\nalice:x:64501:\nbob:x:64502:\nvigil-recorded:x:64510:alice\n' >> "$w/etc/group"
sed -i 's/^passwd:.*/passwd: vigil [TRYAGAIN=return] files systemd/' "$w/etc/nsswitch.conf"
mkdir -p "$w/lib"
cp "$BIN/libnss_vigil.so.2" "$w/lib/"
cp "$BIN/pam_vigil.so" "$w/"
# After sshd's own pam_env lines, which would overwrite what pam_vigil sets.
echo "session required $w/pam_vigil.so" >> "$w/etc/pam.d/sshd"
cp "$BIN/vigil-rec-session" "$w/"
mkdir -p "$w/etc/vigil"
# The example policy records members of vigil-recorded; the recorder lives
# in the work dir here (the namespace shares the host's /usr).
sed "s|^recorder = .*|recorder = \"$w/vigil-rec-session\"|" conf/policy.example.toml > "$w/etc/vigil/policy.toml"
mount --bind "$w/etc" /etc
for d in /run /var/lib /var/log /home; do mount -t tmpfs -o mode=755 tmpfs "$d"; done
ldconfig -X "$w/lib" # the namespace's ld.so.cache finds libnss_vigil.so.2
chown vigil:vigil "$w/vigil-rec-session"
chmod 6755 "$w/vigil-rec-session"
install -d -o vigil -g vigil -m 0750 /var/log/vigil
install -d -o vigil -g vigil -m 0755 /run/vigil
install -d -m 0755 /var/lib/vigil /run/dbus /run/sshd
install -d -o alice -g alice -m 0750 /home/alice
install -d -o bob -g bob -m 0750 /home/bob
printf 'alice:%s\nbob:%s\n' "$PW" "$PW" | chpasswd
"$BIN/vigilctl" keygen

mkdir -p "$w/bus/system.d"
ln -s "$PWD/policyd/dbus/io.vigil.Policy1.conf" "$w/bus/system.d/"
"$w/busconf" /run/dbus/system_bus_socket "$w/bus/system.d" > "$w/bus/bus.conf"
dbus-daemon --nofork --nopidfile --config-file="$w/bus/bus.conf" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [ -S /run/dbus/system_bus_socket ] && break; sleep 0.05; done
"$BIN/vigil-policyd" --policy /etc/vigil/policy.toml 2>"$w/policyd.log" &
pids+=($!)
for _ in $(seq 100); do "$BIN/vigilctl" status >/dev/null 2>&1 && break; sleep 0.1; done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -f "$w/hostkey"
cat > "$w/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $w/hostkey
PidFile $w/sshd.pid
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PrintMotd no
PermitRootLogin no
EOF
/usr/sbin/sshd -D -f "$w/sshd_config" 2>"$w/sshd.log" &
pids+=($!)
for _ in $(seq 100); do ssh-keyscan -p "$port" 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.1; done

say "vigilctl status"
"$BIN/vigilctl" status
say "vigilctl explain alice / bob (why each is or is not recorded)"
"$BIN/vigilctl" explain alice --service sshd
"$BIN/vigilctl" explain bob --service sshd
say "getent passwd alice bob: NSS hands alice the recorder as her shell"
getent passwd alice bob

login() { # user: a scripted interactive session over ssh -tt
	{
		sleep 1.5
		echo 'echo "hello from $(id -un) on $(hostname)"; ls -ld /etc /tmp'
		sleep 0.7
		printf 'printf "colours: \\033[1;32mgreen\\033[0m, unicode: é€😀\\n"\n'
		sleep 0.7
		echo exit
	} | sshpass -p "$PW" ssh -tt -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o LogLevel=ERROR -o PubkeyAuthentication=no "$1@127.0.0.1" || true
}
say "alice logs in over ssh (recorded)"
login alice
say "bob logs in over ssh (not recorded)"
login bob

say "vigil-play list /var/log/vigil"
for _ in $(seq 50); do grep -qs '"end":' /var/log/vigil/*.jsonl && break; sleep 0.1; done
"$BIN/vigil-play" list /var/log/vigil
rec=$(ls /var/log/vigil/*.jsonl)
ls -l "$rec"
say "vigil-play verify (hash chain and signatures)"
"$BIN/vigil-play" verify "$rec"
say "replaying alice's session at 20x"
script -q -e -c "$BIN/vigil-play play --speed 20 $rec" /dev/null </dev/null
echo
say "done: the namespace, its users, services and recordings go away now"
