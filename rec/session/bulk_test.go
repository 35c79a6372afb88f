package session

import (
	"slices"
	"strings"
	"testing"
)

func TestBulkTransfer(t *testing.T) {
	for cmd, want := range map[string]bool{
		"scp -t /tmp":                  true,
		"scp -f file":                  true,
		"scp -v -r -p -d -t -- -dir":   true,
		"scp -prt dir":                 true,
		"scp file host:":               false,
		"/usr/lib/openssh/sftp-server": true,
		"/usr/lib/openssh/sftp-server -e -l INFO -u 022":                true,
		"rsync --server -vlogDtpre.iLsfxC . /x":                         true,
		"rsync --server --sender -vlogDtpre.iLsfxCIvu . src":            true,
		"rsync --server -e.LsfxCIvu --log-format=%i --timeout=60 . dst": true,
		"rsync -av a b":                   false,
		"git-upload-pack '/srv/repo.git'": true,
		"git-upload-pack '~/repo.git'":    true,
		"git upload-pack repo":            true,
		"git log":                         false,
		"ls -l":                           false,
		"":                                false,
		// Anything that could run something else is a session, recorded in full.
		"git-upload-pack x; bash -i":        false,
		"scp -t x && cat /etc/shadow":       false,
		"scp -t $(id)":                      false,
		"git-upload-pack 'x'\nbash":         false,
		"/home/alice/sftp-server":           false,
		"/usr/local/bin/rsync --server . x": false,
		"git-upload-pack 'unterminated":     false,
		"rsync --server . \"x\"":            false,
		"git-upload-pack 'a b'":             true,
		// Knobs the user holds. rsync's daemon mode runs ./rsyncd.conf's
		// exec commands, however it is asked for.
		"rsync --server --daemon .":                      false,
		"rsync --server -daemon .":                       false,
		"rsync --server . x --daemon":                    false,
		"rsync --server --config=rsyncd.conf --daemon .": false,
		"rsync --server --dparam=x=y .":                  false,
		"rsync --server --no-detach .":                   false,
		"rsync --server -M--daemon .":                    false,
		"rsync --server -vM--daemon .":                   false,
		// --secluded-args: the real options, --daemon too, come later.
		"rsync --server -s .":                false,
		"rsync --server -se.LsfxCIvu":        false,
		"rsync --server -vse.LsfxCIvu . x":   false,
		"rsync --server --secluded-args . x": false,
		"rsync --server --protect-args . x":  false,
		"rsync --server -protect-args . x":   false,
		// Options before --server still see ~/.popt's aliases.
		"rsync -Z --server . x":       false,
		"rsync --sender --server . x": false,
		"rsync . --server":            false,
		// git-receive-pack runs hooks; git-upload-archive filters.
		"git-receive-pack 'repo'":   false,
		"git receive-pack repo":     false,
		"git-upload-archive 'repo'": false,
		"git upload-archive repo":   false,
		// An option for the repository: --help runs a viewer.
		"git-upload-pack --help":                false,
		"git upload-pack --help":                false,
		"git-upload-pack --strict repo":         false,
		"git-upload-pack -h":                    false,
		"git upload-pack":                       false,
		"git -c x=y upload-pack repo":           false,
		"git --exec-path=/tmp upload-pack repo": false,
		"git-upload-pack a b":                   false,
		// scp options other than the client's are a full session.
		"scp -S /home/alice/evil -t x": false,
		"scp -o ProxyCommand=x -t x":   false,
		"scp -tx dir":                  false,
		"scp dir":                      false,
		"scp -- -t":                    false,
	} {
		if _, got := BulkTransfer(cmd, nil); got != want {
			t.Errorf("BulkTransfer(%q) = %v, want %v", cmd, got, want)
		}
	}
	if tr, ok := BulkTransfer("git-upload-pack '/srv/my repo.git'", nil); !ok || tr.Path != "/usr/bin/git-upload-pack" ||
		len(tr.Argv) != 2 || tr.Argv[1] != "/srv/my repo.git" {
		t.Errorf("BulkTransfer(git-upload-pack) = %+v %v", tr, ok)
	}
}

// The environment reaching the recorder is the user's (AcceptEnv,
// PermitUserEnvironment, ~/.pam_environment): a transfer gets none of it
// but the locale, and git also HOME and the protocol version, with its
// configuration neutralised.
func TestBulkTransferEnvironment(t *testing.T) {
	user := []string{
		"PATH=/home/alice/bin:/usr/bin", "HOME=/home/alice", "USER=alice", "SHELL=/bin/bash",
		"LANG=de_DE.UTF-8", "LC_ALL=C.UTF-8", "LANGUAGE=de:en", "LC_TIME=../../home/alice/x", "LC_=x", "LC_a/b=x",
		"LD_PRELOAD=/home/alice/evil.so", "LD_LIBRARY_PATH=/home/alice", "GCONV_PATH=/home/alice", "LOCPATH=/home/alice",
		"GLIBC_TUNABLES=x", "TZ=:/home/alice/tz", "XDG_CONFIG_HOME=/home/alice/x",
		"RSYNC_ICONV=x", "RSYNC_PROTECT_ARGS=1", "POPT_X=1",
		"GIT_PROTOCOL=version=2", "GIT_CONFIG_GLOBAL=/home/alice/evil", "GIT_CONFIG_PARAMETERS='uploadpack.packobjectshook'='x'",
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=uploadpack.packObjectsHook", "GIT_CONFIG_VALUE_0=/home/alice/hook",
		"GIT_EXEC_PATH=/home/alice/gx", "GIT_NO_LAZY_FETCH=0", "GIT_DIR=/home/alice/x", "GIT_TRACE=/home/alice/t",
		"GIT_CONFIG_NOSYSTEM=0", "GIT_CONFIG_SYSTEM=/home/alice/s", "PAGER=evil", "GIT_PAGER=evil",
	}
	locale := []string{"LANG=de_DE.UTF-8", "LC_ALL=C.UTF-8", "LANGUAGE=de:en"}
	for cmd, want := range map[string][]string{
		"scp -t x":                     append([]string{transferPath}, locale...),
		"rsync --server . x":           append([]string{transferPath}, locale...),
		"/usr/lib/openssh/sftp-server": append([]string{transferPath}, locale...),
		"git-upload-pack '~/r'":        slices.Concat([]string{transferPath, "HOME=/home/alice", "GIT_PROTOCOL=version=2"}, locale, gitEnv),
	} {
		tr, ok := BulkTransfer(cmd, user)
		if !ok {
			t.Fatalf("BulkTransfer(%q) refused", cmd)
		}
		got := slices.Clone(tr.Env)
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s: environment\n got %q\nwant %q", cmd, tr.Env, want)
		}
	}
	for _, bad := range []string{"GIT_PROTOCOL=version=2;rm", "HOME=relative"} {
		tr, _ := BulkTransfer("git upload-pack r", []string{bad})
		if slices.Contains(tr.Env, bad) {
			t.Errorf("%s passed", bad)
		}
	}
}

// FuzzBulkTransfer checks, for any command and environment, that an
// accepted transfer runs a known program at a system path with the
// command's words, an environment free of loader and program variables,
// and never a daemon or receive-pack.
func FuzzBulkTransfer(f *testing.F) {
	f.Add("rsync --server -vlogDtpre.iLsfxC . /x", "LD_PRELOAD=x")
	f.Add("git-upload-pack '/srv/repo.git'", "GIT_PROTOCOL=version=2")
	f.Add("scp -t -- -x", "HOME=/home/a")
	f.Add("rsync --server -se.L", "LANG=C")
	f.Fuzz(func(t *testing.T, cmd, env string) {
		tr, ok := BulkTransfer(cmd, strings.Split(env, "\n"))
		if !ok {
			return
		}
		name := tr.Argv[0][strings.LastIndexByte(tr.Argv[0], '/')+1:]
		prog, known := transferPrograms[name]
		if !known || !slices.Contains(prog.paths, tr.Path) {
			t.Fatalf("%q: runs %s", cmd, tr.Path)
		}
		for _, a := range tr.Argv {
			if a == "--daemon" || strings.Contains(a, "receive-pack") || strings.Contains(a, "upload-archive") {
				t.Fatalf("%q accepted", cmd)
			}
		}
		for _, kv := range tr.Env {
			k, _, _ := strings.Cut(kv, "=")
			if strings.HasPrefix(k, "LD_") || strings.HasPrefix(k, "RSYNC") || k == "GCONV_PATH" ||
				strings.HasPrefix(k, "GIT_") && !slices.Contains(gitEnv, kv) && k != "GIT_PROTOCOL" ||
				k == "PATH" && kv != transferPath || k == "HOME" && !prog.git {
				t.Fatalf("%q: environment has %q", cmd, kv)
			}
		}
	})
}
