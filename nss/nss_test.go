// Tests for libnss_vigil.so.2 through real glibc: the module and a small
// C driver (testdata/driver.c) are built with gcc, the driver sets the
// passwd order to "vigil files" in-process and finds the module through
// LD_LIBRARY_PATH, and nssdb writes the snapshot and serves the socket.
// Nothing on the host changes (design.md section 5).
package nss_test

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/policyd/nssdb"
)

// The production build (Makefile target build) minus the output path.
var moduleFlags = []string{"-O2", "-g", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror",
	"-fvisibility=hidden", "-Wl,-soname,libnss_vigil.so.2"}

var sanitize = []string{"-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"}

var buildRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nss-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// World-searchable: some tests run built programs as nobody.
	os.Chmod(dir, 0o755)
	buildRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildMu sync.Mutex
	built   = map[string]error{}
)

// gcc compiles into buildRoot/out once per test binary.
func gcc(t *testing.T, out string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed")
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	dst := filepath.Join(buildRoot, out)
	err, ok := built[out]
	if !ok {
		os.MkdirAll(filepath.Dir(dst), 0o755)
		cmd := exec.Command(path, append(args, "-o", dst)...)
		if b, cerr := cmd.CombinedOutput(); cerr != nil {
			err = fmt.Errorf("%v: %v\n%s", cmd.Args, cerr, b)
		}
		built[out] = err
	}
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func moduleSources(t *testing.T) []string {
	srcs, err := filepath.Glob("src/*.c")
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no C sources in src/: %v", err)
	}
	return srcs
}

// variant builds the module and the driver, with sanitizers for "asan",
// and returns their directory.
func variant(t *testing.T, name string) string {
	var extra []string
	if name == "asan" {
		extra = sanitize
	} else {
		name = "plain"
	}
	so := gcc(t, name+"/libnss_vigil.so.2", slices.Concat(moduleFlags, extra, moduleSources(t))...)
	gcc(t, name+"/driver", slices.Concat([]string{"-O1", "-g", "-Wall", "-Wextra", "-Werror"}, extra,
		[]string{"testdata/driver.c", "-lpthread"})...)
	return filepath.Dir(so)
}

type driver struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr bytes.Buffer
	done   bool
}

// startDriver runs the driver of a variant ("plain", "asan", "valgrind")
// with the module's paths and extra environment.
func startDriver(t *testing.T, kind, snap, sock string, env ...string) *driver {
	t.Helper()
	dir := variant(t, kind)
	args := []string{filepath.Join(dir, "driver"), "vigil files"}
	if kind == "valgrind" {
		vg, err := exec.LookPath("valgrind")
		if err != nil {
			t.Skip("valgrind is not installed")
		}
		args = append([]string{vg, "--error-exitcode=99", "--leak-check=full", "--quiet"}, args...)
	}
	d := &driver{t: t, cmd: exec.Command(args[0], args[1:]...), lines: make(chan string, 1)}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VIGIL_") && !strings.HasPrefix(kv, "LD_") {
			d.cmd.Env = append(d.cmd.Env, kv)
		}
	}
	d.cmd.Env = append(d.cmd.Env, "LD_LIBRARY_PATH="+dir, "VIGIL_NSS_SNAPSHOT="+snap, "VIGIL_NSS_SOCKET="+sock,
		"ASAN_OPTIONS=detect_leaks=1", "UBSAN_OPTIONS=print_stacktrace=1")
	d.cmd.Env = append(d.cmd.Env, env...)
	d.cmd.Stderr = &d.stderr
	var err error
	if d.stdin, err = d.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			d.lines <- s.Text()
		}
		close(d.lines)
	}()
	t.Cleanup(d.stop)
	return d
}

func (d *driver) do(command string) string {
	d.t.Helper()
	fmt.Fprintln(d.stdin, command)
	select {
	case l, ok := <-d.lines:
		if !ok {
			d.cmd.Wait()
			d.done = true
			d.t.Fatalf("%s: driver died (%v):\n%s", command, d.cmd.ProcessState, d.stderr.String())
		}
		return l
	case <-time.After(2 * time.Minute):
		d.t.Fatalf("%s: no answer from the driver", command)
	}
	return ""
}

// stop ends the driver and fails the test on any sanitizer or valgrind
// report, or any output on stderr (the module must never print).
func (d *driver) stop() {
	if d.done {
		return
	}
	d.done = true
	fmt.Fprintln(d.stdin, "quit")
	d.stdin.Close()
	for range d.lines {
	}
	err := d.cmd.Wait()
	if err != nil || d.stderr.Len() > 0 {
		d.t.Errorf("driver exit: %v\n%s", err, d.stderr.String())
	}
}

// result is one driver answer: "rc=0 found PW" or "rc=34 none" for glibc,
// "SUCCESS PW", "NOTFOUND", "UNAVAIL", "TRYAGAIN errno=34" for the module
// itself; PW is uid:gid:name:passwd:gecos:dir:shell.
type result struct {
	text string
	dur  time.Duration
}

func parseResult(t *testing.T, line string) result {
	t.Helper()
	f := strings.Fields(line)
	us := slices.IndexFunc(f, func(s string) bool { return strings.HasPrefix(s, "us=") })
	if len(f) < 3 || us < 0 {
		t.Fatalf("driver said %q", line)
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(f[us], "us="))
	// The entry verbatim: corrupt snapshots may put blanks in it.
	_, entry, _ := strings.Cut(line[strings.Index(line, " us=")+1:], " ")
	var parts []string
	switch f[0] {
	case "nss":
		parts = []string{f[1], f[2]}
	case "direct":
		parts = []string{strings.TrimPrefix(f[1], "status=")}
		if f[2] != "errno=0" && f[2] != "errno=2" {
			parts = append(parts, f[2])
		}
	}
	if entry != "" {
		parts = append(parts, entry)
	}
	return result{text: strings.Join(parts, " "), dur: time.Duration(n) * time.Microsecond}
}

func (d *driver) lookup(command string) result {
	d.t.Helper()
	return parseResult(d.t, d.do(command))
}

func (d *driver) expect(command, want string) result {
	d.t.Helper()
	r := d.lookup(command)
	if r.text != want {
		d.t.Errorf("%s: got %q, want %q", command, r.text, want)
	}
	return r
}

func pw(e nssdb.Entry) string {
	return fmt.Sprintf("%d:%d:%s:%s:%s:%s:%s", e.UID, e.GID, e.Name, e.Passwd, e.Gecos, e.Dir, e.Shell)
}

// passwdFile returns /etc/passwd's entries, which the files source answers.
func passwdFile(t *testing.T) []nssdb.Entry {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	var out []nssdb.Entry
	for l := range strings.Lines(string(b)) {
		f := strings.Split(strings.TrimSuffix(l, "\n"), ":")
		if len(f) != 7 {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, nssdb.Entry{Name: f[0], Passwd: f[1], UID: uint32(uid), GID: uint32(gid), Gecos: f[4], Dir: f[5], Shell: f[6]})
	}
	if len(out) < 2 || out[0].Name != "root" {
		t.Skip("/etc/passwd does not start with root and another user")
	}
	return out
}

// resolver answers the socket from a fixed table; "failuser" errors.
type resolver struct {
	calls atomic.Int64
	users []nssdb.Entry
}

func (r *resolver) ByName(name string) (nssdb.Entry, bool, error) {
	r.calls.Add(1)
	if name == "failuser" {
		return nssdb.Entry{}, false, errors.New("directory down")
	}
	for _, e := range r.users {
		if e.Name == name {
			return e, true, nil
		}
	}
	return nssdb.Entry{}, false, nil
}

func (r *resolver) ByUID(uid uint32) (nssdb.Entry, bool, error) {
	r.calls.Add(1)
	for _, e := range r.users {
		if e.UID == uid {
			return e, true, nil
		}
	}
	return nssdb.Entry{}, false, nil
}

// world is a snapshot path and a socket path with a switchable server.
type world struct {
	t          *testing.T
	dir        string
	snap, sock string
	res        *resolver
	stopServer func()

	files      []nssdb.Entry
	root       nssdb.Entry // recorded in the snapshot
	other      nssdb.Entry // in /etc/passwd, not recorded
	snapUser   nssdb.Entry // recorded, only in the snapshot
	sockUser   nssdb.Entry // recorded, only known to the socket
	recordedSh string
}

func newWorld(t *testing.T) *world {
	files := passwdFile(t)
	free := uint32(40000)
	for slices.ContainsFunc(files, func(e nssdb.Entry) bool { return e.UID == free || e.UID == free+1 }) {
		free += 2
	}
	w := &world{t: t, dir: t.TempDir(), files: files, recordedSh: "/usr/bin/vigil-rec-session"}
	w.snap = filepath.Join(w.dir, "nss.snapshot")
	w.sock = filepath.Join(w.dir, "nss.sock")
	w.root = files[0]
	w.root.Gecos, w.root.Shell, w.root.Recorded = "vigil-root", w.recordedSh, true
	w.other = files[1]
	w.snapUser = nssdb.Entry{Name: "vigil-snapuser", Passwd: "x", UID: free, GID: 100, Gecos: "only-in-snapshot",
		Dir: "/home/snap", Shell: w.recordedSh, Recorded: true}
	w.sockUser = nssdb.Entry{Name: "vigil-sockuser", Passwd: "x", UID: free + 1, GID: 100, Gecos: "from-socket",
		Dir: "/home/sock", Shell: w.recordedSh, Recorded: true}
	w.res = &resolver{users: []nssdb.Entry{w.sockUser}}
	t.Cleanup(func() { w.setServer(nil) })
	return w
}

func (w *world) write(nobody bool, entries ...nssdb.Entry) {
	w.t.Helper()
	if err := nssdb.WriteSnapshot(w.snap, 1, nobody, entries); err != nil {
		w.t.Fatal(err)
	}
}

// writeRaw replaces the snapshot with arbitrary bytes, atomically.
func (w *world) writeRaw(b []byte) {
	w.t.Helper()
	tmp := w.snap + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Rename(tmp, w.snap); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) standard() { w.write(false, w.root, w.other, w.snapUser) }

// setServer replaces the server on the socket path: start(ln) serves and
// returns a stop function; nil leaves the socket down.
func (w *world) setServer(start func() func()) {
	if w.stopServer != nil {
		w.stopServer()
		w.stopServer = nil
	}
	os.Remove(w.sock)
	if start != nil {
		w.stopServer = start()
	}
}

func (w *world) vigilServer() func() {
	ln, err := nssdb.Listen(w.sock)
	if err != nil {
		w.t.Fatal(err)
	}
	return serveOn(ln, w.res)
}

func serveOn(ln net.Listener, r nssdb.Resolver) func() {
	done := make(chan struct{})
	go func() {
		(&nssdb.Server{Resolver: r, Log: slog.New(slog.DiscardHandler)}).Serve(ln)
		close(done)
	}()
	return func() { ln.Close(); <-done }
}

// muteServer accepts connections and never answers.
func (w *world) muteServer() func() {
	ln, err := net.Listen("unix", w.sock)
	if err != nil {
		w.t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	}
}

// stuckServer listens with a backlog of 1 and never accepts: once the
// backlog is full, a nonblocking connect fails with EAGAIN.
func (w *world) stuckServer() func() {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: w.sock}); err != nil {
		w.t.Fatal(err)
	}
	if err := syscall.Listen(fd, 1); err != nil {
		w.t.Fatal(err)
	}
	return func() { syscall.Close(fd) }
}

func TestModule(t *testing.T) {
	for _, kind := range []string{"plain", "asan", "valgrind"} {
		t.Run(kind, func(t *testing.T) { testModule(t, kind) })
	}
}

func testModule(t *testing.T, kind string) {
	w := newWorld(t)
	w.standard()
	w.setServer(w.vigilServer)
	d := startDriver(t, kind, w.snap, w.sock)
	slow := 600 * time.Millisecond // the ceiling for a 250 ms budget
	if kind == "valgrind" {
		slow = 3 * time.Second
	}
	calls := func() int64 { return w.res.calls.Load() }
	noCalls := func(what string, f func()) {
		t.Helper()
		before := calls()
		f()
		if n := calls() - before; n != 0 {
			t.Errorf("%s: the socket was asked %d times, want none", what, n)
		}
	}
	root, other := w.root, w.other

	// Recorded in the snapshot: its entry, by name and uid, without the socket.
	noCalls("recorded", func() {
		d.expect("nss name root 4096", "rc=0 found "+pw(root))
		d.expect(fmt.Sprintf("nss uid %d 4096", root.UID), "rc=0 found "+pw(root))
		d.expect("direct name root 4096", "SUCCESS "+pw(root))
		d.expect("direct name "+w.snapUser.Name+" 4096", "SUCCESS "+pw(w.snapUser))
		d.expect(fmt.Sprintf("direct uid %d 4096", w.snapUser.UID), "SUCCESS "+pw(w.snapUser))
		// Unrecorded: NOTFOUND, and files answers.
		d.expect("direct name "+other.Name+" 4096", "NOTFOUND")
		d.expect(fmt.Sprintf("direct uid %d 4096", other.UID), "NOTFOUND")
		d.expect("nss name "+other.Name+" 4096", "rc=0 found "+pw(other))
		d.expect(fmt.Sprintf("nss uid %d 4096", other.UID), "rc=0 found "+pw(other))
		if got := d.do("enum"); got != "enum set=SUCCESS get=NOTFOUND errno=2 end=SUCCESS" {
			t.Errorf("enumeration: %q", got)
		}
	})

	// Unknown to the snapshot: the socket decides.
	before := calls()
	d.expect("nss name "+w.sockUser.Name+" 4096", "rc=0 found "+pw(w.sockUser))
	d.expect(fmt.Sprintf("direct uid %d 4096", w.sockUser.UID), "SUCCESS "+pw(w.sockUser))
	d.expect("direct name vigil-nosuchuser 4096", "NOTFOUND")
	d.expect("nss name vigil-nosuchuser 4096", "rc=0 none")
	d.expect("direct name failuser 4096", "TRYAGAIN errno=11")            // policyd up, no answer: not "no daemon"
	d.expect("direct name "+strings.Repeat("n", 257)+" 4096", "NOTFOUND") // cannot be sent
	if n := calls() - before; n != 5 {
		t.Errorf("socket asked %d times, want 5", n)
	}

	// Too small a buffer: ERANGE so glibc can grow it; the exact size works.
	need := len(root.Name) + len(root.Passwd) + len(root.Gecos) + len(root.Dir) + len(root.Shell) + 5
	d.expect("nss name root 8", "rc=34 none")
	d.expect(fmt.Sprintf("direct name root %d", need-1), "TRYAGAIN errno=34")
	d.expect(fmt.Sprintf("direct name root %d", need), "SUCCESS "+pw(root))
	d.expect("direct name "+w.sockUser.Name+" 10", "TRYAGAIN errno=34")
	d.expect(fmt.Sprintf("nss uid %d 0", w.sockUser.UID), "rc=34 none")

	// NOBODY: nothing recorded, and the socket is not asked about anyone.
	w.write(true, other)
	noCalls("NOBODY", func() {
		d.expect("direct name "+w.sockUser.Name+" 4096", "NOTFOUND")
		d.expect("direct name root 4096", "NOTFOUND")
		d.expect("nss name root 4096", "rc=0 found "+pw(w.files[0]))
	})

	// Replaced while the process runs: remapped on the next call, also
	// when two files of the same size follow each other quickly.
	for i := range 20 {
		r := root
		r.Shell = fmt.Sprintf("/opt/rec%02d", i)
		w.write(false, r, other)
		d.expect("direct name root 4096", "SUCCESS "+pw(r))
	}
	w.standard()
	d.expect("direct name root 4096", "SUCCESS "+pw(root))

	// No snapshot: the socket decides everything.
	os.Remove(w.snap)
	before = calls()
	d.expect("direct name root 4096", "NOTFOUND")
	d.expect("direct name "+w.sockUser.Name+" 4096", "SUCCESS "+pw(w.sockUser))
	if n := calls() - before; n != 2 {
		t.Errorf("without a snapshot the socket was asked %d times, want 2", n)
	}

	// Daemon down: UNAVAIL at once, files answers.
	w.setServer(nil)
	r := d.expect("direct name "+w.sockUser.Name+" 4096", "UNAVAIL")
	if r.dur > slow/2 {
		t.Errorf("socket down: UNAVAIL took %v", r.dur)
	}
	d.expect("nss name root 4096", "rc=0 found "+pw(w.files[0]))

	// A root server that accepts and never answers: TRYAGAIN (EAGAIN)
	// after the 250 ms budget, so that nsswitch's [TRYAGAIN=return] can stop
	// the next source from answering for a user policyd may record. One
	// that never accepts: TRYAGAIN while its backlog takes connections,
	// UNAVAIL (as if dead) once it is full. Without the action, files
	// answers either way.
	for _, srv := range []struct {
		name  string
		start func() func()
		want  []string
	}{{"mute", w.muteServer, []string{"TRYAGAIN errno=11"}}, {"stuck", w.stuckServer, []string{"TRYAGAIN errno=11", "UNAVAIL"}}} {
		w.setServer(srv.start)
		for range 3 {
			r := d.lookup("direct name " + w.sockUser.Name + " 4096")
			if !slices.Contains(srv.want, r.text) || r.dur < 240*time.Millisecond || r.dur > slow {
				t.Errorf("%s server: %s after %v, want one of %q after about 250ms", srv.name, r.text, r.dur, srv.want)
			}
		}
		d.expect("nss name root 4096", "rc=0 found "+pw(w.files[0]))
	}
	w.setServer(nil)

	corruptSnapshots(t, w, d)

	if kind != "valgrind" { // valgrind runs threads one at a time: too slow to matter
		stress(t, w, d)
	}
}

// corruptSnapshots: every truncation of a small valid file and random
// corruptions (some with a recomputed checksum, to reach the structure
// checks). The C reader must agree with nssdb.ParseSnapshot: an invalid
// file means "ask the socket", which is down here, so UNAVAIL.
func corruptSnapshots(t *testing.T, w *world, d *driver) {
	w.write(false, w.root, w.other, w.snapUser)
	good, err := os.ReadFile(w.snap)
	if err != nil {
		t.Fatal(err)
	}
	check := func(b []byte) {
		t.Helper()
		w.writeRaw(b)
		want := "UNAVAIL"
		if s, err := nssdb.ParseSnapshot(b); err == nil {
			e, ok := s.ByName("root")
			switch {
			case ok && e.Recorded:
				want = "SUCCESS " + pw(e)
			case ok || s.Nobody():
				want = "NOTFOUND"
			}
		}
		if got := d.lookup("direct name root 4096"); got.text != want {
			t.Fatalf("snapshot %x: got %q, want %q", b, got.text, want)
		}
	}
	for n := range len(good) {
		check(good[:n])
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 400 {
		b := slices.Clone(good)
		for range 1 + rng.IntN(3) {
			off := rng.IntN(len(b))
			if rng.IntN(2) == 0 && off+4 <= len(b) {
				vals := []uint32{0, 1, 2, 3, 0xffffffff, uint32(len(b)), uint32(rng.IntN(len(b)))}
				binary.LittleEndian.PutUint32(b[off&^3:], vals[rng.IntN(len(vals))])
			} else {
				b[off] ^= byte(1 + rng.IntN(255))
			}
		}
		if i%4 != 0 {
			binary.LittleEndian.PutUint32(b[56:], checksum(b[64:]))
		}
		check(b)
	}
}

// stress: threads look up while the snapshot is replaced under them and
// the process forks.
func stress(t *testing.T, w *world, d *driver) {
	w.standard() // valid before the first lookup
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := w.root
			r.Shell = fmt.Sprintf("/opt/rec%d", i%2)
			if err := nssdb.WriteSnapshot(w.snap, uint64(i), false, []nssdb.Entry{r, w.other}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	got := d.do("stress 4 20000 root")
	close(stop)
	<-done
	if got != "stress ok" {
		t.Error(got)
	}
}

func TestBypass(t *testing.T) {
	w := newWorld(t)
	w.standard()
	w.setServer(w.vigilServer)
	d := startDriver(t, "plain", w.snap, w.sock, "VIGIL_NSS_BYPASS=")
	r := d.expect("direct name root 4096", "UNAVAIL")
	if r.dur > 50*time.Millisecond {
		t.Errorf("bypassed lookup took %v", r.dur)
	}
	d.expect("direct name "+w.sockUser.Name+" 4096", "UNAVAIL")
	d.expect("nss name root 4096", "rc=0 found "+pw(w.files[0]))
	if n := w.res.calls.Load(); n != 0 {
		t.Errorf("bypassed module asked the socket %d times", n)
	}
}

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs programs as another uid")
	}
}

var nobodyCred = &syscall.Credential{Uid: 65534, Gid: 65534}

// TestNonRootServerRefused: the server's socket is listen(2)ed by a
// process running as nobody (testdata/listen_as.c), so SO_PEERCRED says
// 65534; we accept and serve on it ourselves. The module must hang up
// before asking, nssdb.Dial (as root) must refuse.
func TestNonRootServerRefused(t *testing.T) {
	requireRoot(t)
	listenAs := gcc(t, "listen_as", "-O2", "-Wall", "-Werror", "testdata/listen_as.c")
	w := newWorld(t)
	w.setServer(func() func() {
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: w.sock}); err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(fd), "nss.sock")
		defer f.Close()
		cmd := exec.Command(listenAs)
		cmd.ExtraFiles = []*os.File{f}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobodyCred}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("listen_as: %v %s", err, out)
		}
		ln, err := net.FileListener(f)
		if err != nil {
			t.Fatal(err)
		}
		return serveOn(ln, w.res)
	})
	d := startDriver(t, "plain", w.snap, w.sock)
	d.expect("direct name "+w.sockUser.Name+" 4096", "UNAVAIL")
	d.expect("nss name root 4096", "rc=0 found "+pw(w.files[0]))
	if n := w.res.calls.Load(); n != 0 {
		t.Errorf("a request reached the non-root server %d times", n)
	}
	if _, err := nssdb.Dial(w.sock, time.Second); err == nil || !strings.Contains(err.Error(), "server runs as uid 65534") {
		t.Errorf("nssdb.Dial to a nobody server: %v", err)
	}
}

// TestSetuidIgnoresEnvironment: a setuid program must not let its caller
// point the module at another snapshot or bypass it. The module here has
// compiled-in paths (testing -DVIGIL_SNAPSHOT_PATH too); nobody runs a
// setuid-root copy and a plain copy of the driver with overrides set.
func TestSetuidIgnoresEnvironment(t *testing.T) {
	requireRoot(t)
	dir, err := os.MkdirTemp("", "nss-suid-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	snap := filepath.Join(dir, "nss.snapshot")
	root := passwdFile(t)[0]
	root.Shell, root.Recorded = "/opt/vigil-suid-test", true
	if err := nssdb.WriteSnapshot(snap, 1, false, []nssdb.Entry{root}); err != nil {
		t.Fatal(err)
	}
	gcc(t, "suid/libnss_vigil.so.2", slices.Concat(moduleFlags,
		[]string{`-DVIGIL_SNAPSHOT_PATH="` + snap + `"`, `-DVIGIL_SOCKET_PATH="` + dir + `/none.sock"`}, moduleSources(t))...)
	libDir := filepath.Join(buildRoot, "suid")
	// An absolute RUNPATH: the loader ignores LD_LIBRARY_PATH for setuid programs.
	drv := gcc(t, "suid/driver", "-O1", "-Wall", "-Werror", "-Wl,-rpath,"+libDir, "testdata/driver.c", "-lpthread")
	suid := filepath.Join(dir, "driver-suid")
	b, err := os.ReadFile(drv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(suid, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	run := func(prog string, env ...string) string {
		cmd := exec.Command(prog, "vigil files")
		cmd.Dir = dir
		cmd.Env = env
		cmd.Stdin = strings.NewReader("secure\ndirect name root 4096\n")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobodyCred}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", prog, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 2 {
			t.Fatalf("%s: %q", prog, out)
		}
		return lines[0] + " / " + parseResult(t, lines[1]).text
	}
	overrides := []string{"VIGIL_NSS_SNAPSHOT=/nonexistent", "VIGIL_NSS_SOCKET=/nonexistent", "VIGIL_NSS_BYPASS=1"}
	if got := run(suid, overrides...); got == "secure 0 / UNAVAIL" {
		t.Skipf("the setuid bit has no effect here (nosuid mount?): %s", got)
	} else if want := "secure 1 / SUCCESS " + pw(root); got != want {
		t.Errorf("setuid with overrides: %q, want %q", got, want)
	}
	if got, want := run(drv, overrides...), "secure 0 / UNAVAIL"; got != want {
		t.Errorf("not setuid, with overrides: %q, want %q", got, want)
	}
	if got, want := run(drv), "secure 0 / SUCCESS "+pw(root); got != want {
		t.Errorf("not setuid, compiled-in paths: %q, want %q", got, want)
	}
}

// TestModuleExports: the production build exports exactly the NSS entry
// points and carries the soname glibc looks for.
func TestModuleExports(t *testing.T) {
	f, err := elf.Open(filepath.Join(variant(t, "plain"), "libnss_vigil.so.2"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var defined []string
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF && elf.ST_BIND(s.Info) != elf.STB_LOCAL {
			defined = append(defined, s.Name)
		}
	}
	slices.Sort(defined)
	want := []string{"_nss_vigil_endpwent", "_nss_vigil_getpwent_r", "_nss_vigil_getpwnam_r", "_nss_vigil_getpwuid_r", "_nss_vigil_setpwent"}
	if !slices.Equal(defined, want) {
		t.Errorf("exported %v, want %v", defined, want)
	}
	if so, err := f.DynString(elf.DT_SONAME); err != nil || !slices.Equal(so, []string{"libnss_vigil.so.2"}) {
		t.Errorf("soname %v, %v", so, err)
	}
}

// checksum is the snapshot's FNV-1a 32 (policyd/spec/nss.md).
func checksum(b []byte) uint32 {
	h := fnv.New32a()
	h.Write(b)
	return h.Sum32()
}
