package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-rec/vigil/play/collector/devmode"
	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// collectorUnit is the installed unit of the fleet's collector.
const collectorUnit = "/usr/lib/systemd/system/vigil-collector.service"

// checkCollector checks, in the root the package was just installed in,
// what it gives the fleet's collector: the account vigil-collector and the
// group vigil-auditors; /etc/default/vigil-collector, 0640
// root:vigil-collector (it may hold a password), setting nothing until the
// admin does, every option its example shows one that serve takes; a unit
// that systemd-analyze verify accepts, hardened, not enabled. Then it runs
// the collector as that unit would (its user and groups, its runtime
// directory, its environment file with the example's options) on a test
// database: an admin's `hosts add` as vigil-collector (as
// conf/system/README.md shows it) works, the local
// read socket serves vigil-play for members of vigil-auditors and refuses
// everyone else, and SIGTERM stops it cleanly. Last the admin enables the
// unit, which purge must undo (TestPackageDeb's leftovers check).
func checkCollector(t *testing.T, c chrootRunner) {
	t.Helper()
	if got := c.run("getent", "passwd", "vigil-collector"); !regexp.MustCompile(`^vigil-collector:x:\d+:\d+:[^:]*:/nonexistent:/usr/sbin/nologin\n$`).MatchString(got) {
		t.Errorf("vigil-collector account: %q", got)
	}
	if out, err := c.cmd("getent", "group", "vigil-auditors").CombinedOutput(); err != nil || strings.Count(string(out), ":") != 3 {
		t.Errorf("group vigil-auditors: %v %q", err, out)
	}
	if got := c.run("dpkg-statoverride", "--list", "/etc/default/vigil-collector"); got != "root vigil-collector 640 /etc/default/vigil-collector\n" {
		t.Errorf("stat override: %q", got)
	}

	// The unit: what it runs, as whom, and its sandbox.
	unit := readUnit(t, filepath.Join(c.root, collectorUnit))
	for key, want := range map[string]string{
		"Unit.Documentation":              "man:vigil-collector(8) man:vigil-collector-serve(8)",
		"Service.EnvironmentFile":         "/etc/default/vigil-collector",
		"Service.ExecStart":               "/usr/sbin/vigil-collector serve $VIGIL_COLLECTOR_OPTS",
		"Service.User":                    "vigil-collector",
		"Service.Group":                   "vigil-collector",
		"Service.SupplementaryGroups":     "vigil-auditors",
		"Service.RuntimeDirectory":        "vigil-collector",
		"Service.RuntimeDirectoryMode":    "0755",
		"Service.NoNewPrivileges":         "yes",
		"Service.CapabilityBoundingSet":   "",
		"Service.ProtectSystem":           "strict",
		"Service.ProtectHome":             "yes",
		"Service.PrivateTmp":              "yes",
		"Service.PrivateDevices":          "yes",
		"Service.RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"Service.RestrictNamespaces":      "yes",
		"Service.MemoryDenyWriteExecute":  "yes",
		"Service.SystemCallFilter":        "@system-service",
		"Install.WantedBy":                "multi-user.target",
	} {
		if got, ok := unit[key]; !ok || strings.Join(got, "\n") != want {
			t.Errorf("%s: %s=%q, want %q", collectorUnit, key, got, want)
		}
	}
	for _, key := range []string{"Service.AmbientCapabilities", "Service.ReadWritePaths", "Service.ReadWriteDirectories"} {
		if got, ok := unit[key]; ok {
			t.Errorf("%s: %s=%q: the collector needs no capability and writes nothing", collectorUnit, key, got)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		// In the root: it checks that the program and the man pages exist.
		if out, err := c.cmd("systemd-analyze", "verify", collectorUnit).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", collectorUnit, err, out)
		}
	} else {
		t.Log("systemd-analyze is not installed: the unit is not verified")
	}
	for _, wants := range []string{"etc/systemd/system/multi-user.target.wants/vigil-collector.service", "etc/systemd/system/multi-user.target.wants/vigil-ship.service"} {
		if _, err := os.Lstat(filepath.Join(c.root, wants)); err == nil {
			t.Errorf("/%s: enabled by the package, before it is configured", wants)
		}
	}

	// The environment file sets nothing; its examples are what serve takes.
	env := filepath.Join(c.root, "etc/default/vigil-collector")
	data, err := os.ReadFile(env)
	if err != nil {
		t.Fatal(err)
	}
	examples := map[string][]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			t.Errorf("%s sets %q: the service must not run before the admin configures it", env, l)
		}
		if k, v, ok := envLine(strings.TrimPrefix(l, "#")); ok {
			examples[k] = append(examples[k], v)
		}
	}
	help := c.run("vigil-collector", "serve", "--help")
	if len(examples["VIGIL_COLLECTOR_DB"]) == 0 || len(examples["VIGIL_COLLECTOR_OPTS"]) != 1 {
		t.Fatalf("%s: examples %q, want VIGIL_COLLECTOR_DB and one VIGIL_COLLECTOR_OPTS", env, examples)
	}
	opts := examples["VIGIL_COLLECTOR_OPTS"][0]
	for _, f := range strings.Fields(opts) {
		if strings.HasPrefix(f, "--") && !strings.Contains(help, "  "+f+" ") {
			t.Errorf("%s: the example's %s is not an option of serve:\n%s", env, f, help)
		}
	}

	// A database, and the server's certificate where the example names it,
	// readable by the collector's group.
	db := collectorDB(t, c.root)
	certDir := filepath.Join(c.root, "etc/vigil/collector")
	writeServerCert(t, certDir)
	c.run("chown", "-R", "root:vigil-collector", "/etc/vigil/collector")
	// The admin sets the file as conf/system/README.md says (the example's
	// options; a free port here).
	appendFile(t, env, "VIGIL_COLLECTOR_DB=\""+db+"\"\nVIGIL_COLLECTOR_OPTS=\""+opts+" --listen 127.0.0.1:0\"\n")

	// The admin adds a host as conf/system/README.md says: as
	// vigil-collector (the database's role), with the file's settings.
	hostsAdd := c.cmd("runuser", "-u", "vigil-collector", "--", "sh", "-c", `set -a; . /etc/default/vigil-collector; exec vigil-collector "$@"`,
		"vigil-collector", "hosts", "add", "web1.example.com", "--url", "https://collector.example.com:8443")
	if out, err := hostsAdd.CombinedOutput(); err != nil || !strings.Contains(string(out), "vigil-ship enroll") {
		t.Errorf("vigil-collector hosts add as vigil-collector: %v\n%s", err, out)
	}

	// The service, as systemd would start it: the runtime directory, the
	// environment file's variables, ExecStart's $VIGIL_COLLECTOR_OPTS split
	// into words, as User with Group and SupplementaryGroups, no
	// capabilities, no new privileges.
	u := func(k string) string { return strings.Join(unit["Service."+k], " ") }
	c.run("install", "-d", "-m", u("RuntimeDirectoryMode"), "-o", u("User"), "-g", u("Group"), "/run/"+u("RuntimeDirectory"))
	vars := envFile(t, env)
	args := []string{c.root, "setpriv", "--reuid=" + u("User"), "--regid=" + u("Group"), "--groups=" + u("SupplementaryGroups"),
		"--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--", "env", "-i", pkgPath}
	for k, v := range vars {
		args = append(args, k+"="+v)
	}
	for _, w := range strings.Fields(u("ExecStart")) {
		if w == "$VIGIL_COLLECTOR_OPTS" {
			args = append(args, strings.Fields(vars["VIGIL_COLLECTOR_OPTS"])...)
		} else {
			args = append(args, w)
		}
	}
	serve := svctest.Start(t, "chroot", args...)
	sock := "/run/vigil-collector/read.sock"
	waitFor(t, "the collector's read socket", func() bool {
		fi, err := os.Stat(filepath.Join(c.root, sock))
		return err == nil && fi.Mode().Type() == os.ModeSocket
	})
	if got := c.run("stat", "-c", "%a %U:%G", "/run/vigil-collector", sock); got != "755 vigil-collector:vigil-collector\n660 vigil-collector:vigil-auditors\n" {
		t.Errorf("the runtime directory and the read socket: %q", got)
	}
	// vtest (TestPackageDeb's user) reads as an auditor, and not otherwise.
	auditor := c.cmd("setpriv", "--reuid=vtest", "--regid=vtest", "--groups=vigil-auditors", "--", "vigil-play", "list", "--server", sock)
	if out, err := auditor.CombinedOutput(); err != nil {
		t.Errorf("vigil-play list --server %s, in vigil-auditors: %v\n%s", sock, err, out)
	}
	other := c.cmd("setpriv", "--reuid=vtest", "--regid=vtest", "--init-groups", "--", "vigil-play", "list", "--server", sock)
	if out, err := other.CombinedOutput(); err == nil || !strings.Contains(string(out), "permission denied") {
		t.Errorf("vigil-play list --server %s, not in vigil-auditors: %v, want permission denied\n%s", sock, err, out)
	}
	// systemd stops it with SIGTERM; purge removes the account, which
	// userdel refuses while the account runs a process.
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the collector on SIGTERM: %v", err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("the collector did not stop on SIGTERM")
	}

	// The admin enables it: purge must take that back.
	c.run("systemctl", "enable", "vigil-collector.service")
	if _, err := os.Lstat(filepath.Join(c.root, "etc/systemd/system/multi-user.target.wants/vigil-collector.service")); err != nil {
		t.Errorf("systemctl enable vigil-collector: %v", err)
	}
}

// readUnit parses a systemd unit file into "Section.Key" -> its values.
func readUnit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			section = l[1 : len(l)-1]
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("%s: %q", path, l)
			}
			m[section+"."+strings.TrimSpace(k)] = append(m[section+"."+strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// envLine parses a line KEY="VALUE" of an environment file.
func envLine(l string) (key, value string, ok bool) {
	k, v, ok := strings.Cut(l, "=")
	if !ok || !regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`).MatchString(k) {
		return "", "", false
	}
	if uq, err := strconv.Unquote(v); err == nil {
		v = uq
	}
	return k, v, true
}

// envFile is what an environment file (systemd.exec(5), the subset the
// package's files use) sets.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := envLine(strings.TrimSpace(l)); ok {
			m[k] = v
		}
	}
	return m
}

// collectorDB starts a test PostgreSQL server and returns the connection
// string of its database postgres as seen in root: its socket's directory
// is bound to /run/vigil-test-db there.
func collectorDB(t *testing.T, root string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(pgtest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	// The collector runs as vigil-collector, not as the test server's
	// user: let it reach the socket (which is 0777).
	if err := os.Chmod(cfg.Host, 0o711); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "run/vigil-test-db")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	svctest.Mount(t, "--bind", cfg.Host, dir)
	return "host=/run/vigil-test-db user=postgres dbname=postgres sslmode=disable"
}

// writeServerCert writes a server certificate for collector.example.com
// (server.pem, 0644) and its key (server.key, 0640) into dir (0750).
func writeServerCert(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := devmode.Certificates(dir, "collector.example.com"); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, devmode.KeyFile), 0o640); err != nil {
		t.Fatal(err)
	}
}
