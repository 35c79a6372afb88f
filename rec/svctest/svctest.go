// Package svctest runs tests against real system services (journald,
// rsyslogd) without touching the host: the test re-executes itself inside a
// private mount namespace, where tmpfs and bind mounts hide the host's
// sockets, logs and configuration, and every service it starts is killed
// when the test ends.
package svctest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envInner names the test that a re-executed test binary must run inside
// the namespace.
const envInner = "VIGIL_SVCTEST_INNER"

// RequireRoot skips t unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts in a private mount namespace and runs system services")
	}
}

// InNamespace reports whether the calling top-level test runs inside its
// private mount namespace. If not, it re-executes the test binary under
// `unshare -m --propagation private` to run only this test there, reports
// the child's outcome on t and returns false; the caller then returns.
//
//	if !svctest.InNamespace(t) { return }
func InNamespace(t *testing.T) bool {
	t.Helper()
	RequireRoot(t)
	if os.Getenv(envInner) == t.Name() {
		return true
	}
	if strings.Contains(t.Name(), "/") {
		t.Fatal("svctest.InNamespace must be called from a top-level test")
	}
	// A hung test fails in minutes; benchmarks that run longer say how long
	// they may take.
	timeout := "3m"
	if v := os.Getenv("VIGIL_SVCTEST_TIMEOUT"); v != "" {
		timeout = v
	}
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "--",
		os.Args[0], "-test.run", "^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1",
		"-test.timeout="+timeout)
	cmd.Env = append(os.Environ(), envInner+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("inside the namespace:\n%s", out)
	switch {
	case err != nil:
		t.Fatalf("test failed inside the namespace: %v", err)
	case bytes.Contains(out, []byte("--- SKIP: "+t.Name())):
		t.Skip("skipped inside the namespace (see log)")
	case !bytes.Contains(out, []byte("--- PASS: "+t.Name())):
		t.Fatal("test did not run inside the namespace")
	}
	return false
}

// mustInner fails t unless it runs inside its namespace: mounting anywhere
// else would change the host.
func mustInner(t testing.TB) {
	t.Helper()
	if os.Getenv(envInner) == "" {
		t.Fatal("svctest: mounts are only allowed inside InNamespace")
	}
}

// Mount runs mount(8) with args, whose last one is the mount point, inside
// the test's namespace, and unmounts it when t ends (so that temp dirs under
// it can be removed).
func Mount(t testing.TB, args ...string) {
	t.Helper()
	mustInner(t)
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Fatalf("mount %s: %v: %s", strings.Join(args, " "), err, out)
	}
	target := args[len(args)-1]
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", target).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", target, err, out)
		}
	})
}

// Tmpfs mounts a fresh tmpfs on dir (creating dir first if it is missing,
// which only happens in a test's temp dir). opts may be empty.
func Tmpfs(t testing.TB, dir, opts string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if opts == "" {
		opts = "mode=755"
	}
	Mount(t, "-t", "tmpfs", "-o", opts, "tmpfs", dir)
}

// BindFile bind-mounts a file with the given content over target, which must
// exist.
func BindFile(t testing.TB, target, content string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), filepath.Base(target))
	if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	Mount(t, "--bind", src, target)
}

// PrivateDev replaces /dev with a tmpfs holding only null, zero, full,
// random, urandom, tty and a private devpts instance (ptys for login
// programs), so that a test can create /dev/log without touching the host's
// devtmpfs.
func PrivateDev(t testing.TB) {
	t.Helper()
	host := filepath.Join(t.TempDir(), "hostdev")
	if err := os.Mkdir(host, 0o755); err != nil {
		t.Fatal(err)
	}
	Mount(t, "--bind", "/dev", host)
	Tmpfs(t, "/dev", "")
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if err := os.WriteFile("/dev/"+n, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		Mount(t, "--bind", filepath.Join(host, n), "/dev/"+n)
	}
	if err := os.Mkdir("/dev/pts", 0o755); err != nil {
		t.Fatal(err)
	}
	Mount(t, "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620,gid=5", "devpts", "/dev/pts")
	if err := os.Symlink("pts/ptmx", "/dev/ptmx"); err != nil {
		t.Fatal(err)
	}
}

// Start starts a service and kills it (by its PID) when t ends. The service
// also gets SIGKILL if the test binary dies first.
func Start(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if out.Len() > 0 {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return cmd
}

// WaitSocket waits until a datagram socket at path accepts connections.
func WaitSocket(t testing.TB, path string) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var c net.Conn
		if c, err = net.Dial("unixgram", path); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("%s is not up: %v", path, err)
}

// JournalDir is where the namespace's journald keeps its (volatile) files.
const JournalDir = "/run/log/journal"

// StartJournald runs systemd-journald standalone in the test's namespace:
// tmpfs on /run/systemd (its sockets), /run/log (JournalDir) and
// /var/log/journal (so nothing can reach the host's persistent journal),
// and a journald.conf without rate limits, kmsg or forwarding. It returns
// when /run/systemd/journal/socket accepts datagrams.
func StartJournald(t testing.TB) *exec.Cmd {
	t.Helper()
	for _, d := range []string{"/run/systemd", "/run/log", "/var/log/journal"} {
		Tmpfs(t, d, "")
	}
	BindFile(t, "/etc/systemd/journald.conf", `[Journal]
Storage=volatile
RateLimitIntervalSec=0
ReadKMsg=no
ForwardToSyslog=no
ForwardToWall=no
ForwardToConsole=no
Audit=no
`)
	cmd := Start(t, "/lib/systemd/systemd-journald")
	WaitSocket(t, "/run/systemd/journal/socket")
	return cmd
}

// SyncJournal returns once journald has stored every message sent to it
// before the call: it sends a marker through the same socket (one queue,
// read in order) and waits until journalctl shows it. journald stores
// messages asynchronously, so a reader straight after the writer exits
// can otherwise see none or only some of them.
func SyncJournal(t testing.TB) {
	t.Helper()
	marker := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	logger := exec.Command("logger", "--journald")
	logger.Stdin = strings.NewReader("MESSAGE=sync\nVIGIL_TEST_SYNC=" + marker + "\n")
	if out, err := logger.CombinedOutput(); err != nil {
		t.Fatalf("logger --journald: %v %s", err, out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out, err := exec.Command("journalctl", "-D", JournalDir, "-o", "cat", "VIGIL_TEST_SYNC="+marker).Output()
		if err != nil {
			t.Fatalf("journalctl: %v", err)
		}
		if len(bytes.TrimSpace(out)) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("journald has not stored a marker message after 10 s")
		}
	}
}

// StartRsyslog runs `rsyslogd -n` in the test's namespace with imuxsock
// listening on /dev/log (on a private /dev, see PrivateDev), no rate
// limit, messages up to maxMsg bytes, and rules (rsyslog RainerScript:
// templates and actions). It returns when /dev/log accepts datagrams.
func StartRsyslog(t testing.TB, maxMsg int, rules string) *exec.Cmd {
	t.Helper()
	if _, err := exec.LookPath("rsyslogd"); err != nil {
		t.Skip("rsyslogd not installed (apt-get install -y rsyslog)")
	}
	PrivateDev(t)
	dir := t.TempDir()
	// maxMessageSize must come before any module is loaded.
	conf := fmt.Sprintf(`global(maxMessageSize="%d" workDirectory="%s")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="/dev/log" RateLimit.Interval="0")
%s
`, maxMsg, dir, rules)
	cf := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := Start(t, "rsyslogd", "-n", "-f", cf, "-i", filepath.Join(dir, "rsyslogd.pid"))
	WaitSocket(t, "/dev/log")
	return cmd
}
