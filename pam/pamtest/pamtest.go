// Package pamtest holds what the tests of pam_vigil and of policyd/pamcheck share:
// building pam_vigil.so, a fake policyd on a private system bus, and
// nss_wrapper user databases. Nothing here touches the host.
package pamtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
)

// Recorder is the recorder path the fake policy names.
const Recorder = "/usr/bin/vigil-rec-session"

// Libraries preloaded to run libpam and NSS on test files.
const (
	PamWrapper = "libpam_wrapper.so"
	NSSWrapper = "libnss_wrapper.so"
)

// Root is the module's root directory.
func Root() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..")
}

// BuildModule builds pam_vigil.so into dir with the Makefile's rule, with
// the extra C compiler flags cflags, and returns its path.
func BuildModule(dir string, cflags ...string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	so := filepath.Join(dir, "pam_vigil.so")
	cmd := exec.Command("make", "-s", "-C", Root(), "BIN="+dir, "PAM_CFLAGS="+strings.Join(cflags, " "), so)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make %s: %v\n%s", so, err, out)
	}
	return so, nil
}

// Policy is a fake policyd: Decide answers from Decisions, and users not in
// it are NoSuchUser; Slow's answer comes only after SlowDelay.
type Policy struct {
	Decisions map[string]wire.Decision
	Slow      string
}

// SlowDelay is how long Decide takes for Policy.Slow: past the PAM
// module's budget.
const SlowDelay = 5 * time.Second

// Decide is the D-Bus method.
func (p Policy) Decide(user, service, rhost, tty string) (bool, string, string, string, string, *dbus.Error) {
	if user == p.Slow {
		time.Sleep(SlowDelay)
	}
	d, ok := p.Decisions[user]
	if !ok {
		return false, "", "", "", "", dbus.NewError(wire.ErrNoSuchUser, []any{"no such user: " + user})
	}
	return d.Record, d.Shell, d.Recorder, d.Conf, d.Rule, nil
}

// Serve owns wire.BusName on the bus at addr with p until t ends. The
// test runs as root, which the bus policy requires for owning the name.
func Serve(t testing.TB, addr string, p Policy) {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Export(p, wire.Path, wire.Interface); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(wire.BusName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request %s: %v %v", wire.BusName, reply, err)
	}
}

// User is a passwd entry for nss_wrapper.
type User struct {
	Name  string
	UID   int
	Shell string
}

// NSSEnv writes passwd and group files for users (and root) into dir and
// returns the nss_wrapper variables that make them the process's user
// database (LD_PRELOAD NSSWrapper as well).
func NSSEnv(t testing.TB, dir string, users ...User) []string {
	t.Helper()
	passwd := "root:x:0:0:root:/root:/bin/bash\n"
	group := "root:x:0:\n"
	for _, u := range users {
		passwd += fmt.Sprintf("%s:x:%d:%d::/home/%s:%s\n", u.Name, u.UID, u.UID, u.Name, u.Shell)
		group += fmt.Sprintf("%s:x:%d:\n", u.Name, u.UID)
	}
	pf, gf := filepath.Join(dir, "passwd"), filepath.Join(dir, "group")
	if err := os.WriteFile(pf, []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gf, []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"NSS_WRAPPER_PASSWD=" + pf, "NSS_WRAPPER_GROUP=" + gf}
}

// Env returns os.Environ() without LD_PRELOAD, DBUS_SYSTEM_BUS_ADDRESS and
// any PAM_WRAPPER or NSS_WRAPPER setting, plus extra.
func Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "LD_PRELOAD" || name == "DBUS_SYSTEM_BUS_ADDRESS" ||
			strings.HasPrefix(name, "PAM_WRAPPER") || strings.HasPrefix(name, "NSS_WRAPPER") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}
