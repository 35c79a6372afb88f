package loginhooks

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/vigil-rec/vigil/policyd/daemon"
	"github.com/vigil-rec/vigil/policyd/nssdb"
)

const (
	nssModule = "libnss_vigil.so.2"
	account   = "vigil"
)

// multiarch is Debian's library directory tuple per GOARCH: where libpam
// looks for security/pam_*.so and where the package puts libnss_vigil.
var multiarch = map[string]string{
	"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "386": "i386-linux-gnu",
	"arm": "arm-linux-gnueabihf", "ppc64le": "powerpc64le-linux-gnu", "s390x": "s390x-linux-gnu",
	"riscv64": "riscv64-linux-gnu", "mips64le": "mips64el-linux-gnuabi64", "loong64": "loongarch64-linux-gnu",
}

// checkInstalled reports what enable needs on disk: both modules where
// libpam and glibc find them, and the pam-auth-update profile.
func checkInstalled(o Options) []string {
	var problems []string
	tuple, ok := multiarch[runtime.GOARCH]
	if !ok {
		return []string{"no multiarch directory known for " + runtime.GOARCH}
	}
	for _, m := range []string{"security/" + pamModule, nssModule} {
		found := false
		for _, dir := range []string{"/usr/lib/", "/lib/"} {
			if fi, err := os.Stat(o.path(dir + tuple + "/" + m)); err == nil && fi.Mode().IsRegular() {
				found = true
				break
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("%s is not installed (%s)", filepath.Base(m), o.path("/usr/lib/"+tuple+"/"+m)))
		}
	}
	if _, err := os.Stat(o.path(pamProfile)); err != nil {
		problems = append(problems, fmt.Sprintf("the pam-auth-update profile is missing: %v", err))
	}
	return problems
}

// checkPolicyd reports what would make enabled PAM refuse logins or NSS
// wrap nobody: policyd must answer, publish the snapshot the modules read,
// and name a recorder that is setuid and setgid vigil.
func checkPolicyd(o Options, status func() (daemon.Status, error)) []string {
	st, err := status()
	if err != nil {
		return []string{fmt.Sprintf("vigil-policyd does not answer (%v): start it first (systemctl enable --now vigil-policyd)", err)}
	}
	var problems []string
	if st.Snapshot != nssdb.SnapshotPath {
		problems = append(problems, fmt.Sprintf("vigil-policyd publishes its NSS snapshot at %s, but libnss_vigil and pam_vigil read %s", st.Snapshot, nssdb.SnapshotPath))
	}
	if _, err := nssdb.OpenSnapshot(o.path(nssdb.SnapshotPath)); err != nil {
		problems = append(problems, fmt.Sprintf("no usable NSS snapshot (%v): vigil-policyd has not published one", err))
	}
	if err := checkRecorder(o, st.Recorder); err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

// checkRecorder checks that the recorder policyd names is a regular file,
// setuid and setgid vigil and writable by its owner only: otherwise the
// recorded user could stop or read the recording (or replace the binary).
func checkRecorder(o Options, path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("vigil-policyd names no absolute recorder path (recorder = %q)", path)
	}
	uid, gid, err := lookupAccount(o)
	if err != nil {
		return err
	}
	fi, err := os.Stat(o.path(path))
	if err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	m := fi.Mode()
	if m.IsRegular() && m&fs.ModeSetuid != 0 && m&fs.ModeSetgid != 0 && m.Perm()&0o022 == 0 && st.Uid == uid && st.Gid == gid {
		return nil
	}
	return fmt.Errorf("recorder %s is mode %04o, owner %d:%d; it must be setuid and setgid %s (%d:%d): dpkg-statoverride --update --add %s %s 6755 %s",
		path, unixMode(m), st.Uid, st.Gid, account, uid, gid, account, account, path)
}

func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// lookupAccount finds the vigil user and group in the root's /etc/passwd
// and /etc/group: a local system account (sysusers.d), also in --root.
func lookupAccount(o Options) (uid, gid uint32, err error) {
	find := func(file string) (uint32, error) {
		data, err := os.ReadFile(o.path(file))
		if err != nil {
			return 0, err
		}
		for _, l := range strings.Split(string(data), "\n") {
			f := strings.Split(l, ":")
			if len(f) >= 3 && f[0] == account {
				n, err := strconv.ParseUint(f[2], 10, 32)
				if err != nil {
					return 0, fmt.Errorf("%s: %s: bad id %q", o.path(file), account, f[2])
				}
				return uint32(n), nil
			}
		}
		return 0, fmt.Errorf("no %s in %s (the package creates it: systemd-sysusers vigil.conf)", account, o.path(file))
	}
	if uid, err = find("/etc/passwd"); err != nil {
		return 0, 0, err
	}
	gid, err = find("/etc/group")
	return uid, gid, err
}
