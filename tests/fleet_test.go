package tests

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/devmode"
	"github.com/vigil-rec/vigil/play/collector/pgcluster"
	"github.com/vigil-rec/vigil/play/remote"
	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/sink"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/svctest"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// fleetDir is a directory the PostgreSQL server (nobody, when the tests
// run as root) can reach.
func fleetDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "vigil-fleet-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// startCollector runs vigil-collector serve on a free loopback port with
// the database connString and more args, its certificate signed by a CA
// it makes in dir, and returns it with its URL and the CA's file.
func startCollector(t *testing.T, dir, connString string, args ...string) (p *fleetProc, url, ca string) {
	if _, err := devmode.Certificates(dir); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args = append([]string{"serve", "--listen", addr, "--cert", filepath.Join(dir, devmode.CertFile),
		"--key", filepath.Join(dir, devmode.KeyFile)}, args...)
	p = startDaemon(t, "vigil-collector", []string{"VIGIL_COLLECTOR_DB=" + connString}, args...)
	return p, "https://" + addr, filepath.Join(dir, devmode.CAFile)
}

// fleetProc is a process the test starts, kills and starts again.
type fleetProc struct {
	t    *testing.T
	name string
	args []string
	env  []string
	out  *svctest.Buffer
	cmd  *exec.Cmd
	done chan struct{}
}

func startDaemon(t *testing.T, name string, env []string, args ...string) *fleetProc {
	d := &fleetProc{t: t, name: name, args: args, env: env, out: &svctest.Buffer{}}
	d.start()
	t.Cleanup(func() { d.kill(syscall.SIGKILL) })
	return d
}

func (d *fleetProc) start() {
	d.cmd = exec.Command(binPath(d.name), d.args...)
	d.cmd.Env = append(os.Environ(), d.env...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(d.cmd, d.done)
}

// kill sends sig and waits for the process to end.
func (d *fleetProc) kill(sig syscall.Signal) {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		d.t.Errorf("%s did not end on %v", d.name, sig)
		d.cmd.Process.Kill()
		<-d.done
	}
	d.cmd = nil
}

// fleetHost writes recordings into its directory as a recorder would:
// signed, chained, a message at a time, and ships them with vigil-ship.
type fleetHost struct {
	name, dir, key string
	priv           ed25519.PrivateKey
	ship           *fleetProc
}

// session writes a recording of n messages on h, one every gap, each
// showing its number; what it shows is in the returned channel's value.
func (h *fleetHost) session(t *testing.T, rec string, n int, gap time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		start := time.Now()
		meta := store.Meta{Start: start, Host: h.name, User: "alice", Rec: rec}
		f, err := sink.OpenFile(h.dir+"/", meta)
		if err != nil {
			done <- err
			return
		}
		cw := chain.New(f, h.priv, time.Second, time.Now)
		e := tlog.NewEncoder(tlog.Meta{Host: h.name, Rec: rec, User: "alice", Term: "xterm", Session: 1, Start: start},
			tlog.Options{Payload: 2048, Input: true, Output: true, Window: true}, cw)
		err = e.Window(0, 80, 24)
		for i := 0; i < n && err == nil; i++ {
			time.Sleep(gap)
			t := time.Since(start)
			err = e.Output(t, fmt.Appendf(nil, "%s line %d of %s\r\n", rec, i, h.name))
			if err == nil {
				err = e.Flush(false)
			}
			if err == nil {
				err = f.Flush() // as the recorder does at its latency
			}
		}
		if err == nil {
			err = e.Close(time.Since(start))
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return done
}

// TestFleetFaults runs three hosts shipping live sessions to a collector
// on PostgreSQL through faults: the collector killed mid-stream, the
// database restarted, a shipper killed, the collector away while sessions
// go on (VIGIL_FLEET_OUTAGE, default 10s; the minute with 60s).
// Afterwards the collector holds every host's files byte for byte, all
// verifying OK, and nothing of a forged or revoked host's.
func TestFleetFaults(t *testing.T) {
	outage := envDuration(t, "VIGIL_FLEET_OUTAGE", 10*time.Second)
	dir := fleetDir(t)
	ctx := context.Background()
	pg, err := pgcluster.Start(ctx, filepath.Join(dir, "pg"), pgcluster.Options{NoSync: true})
	if err != nil {
		t.Skip(err) // no PostgreSQL: make deps installs it
	}
	defer func() { pg.Stop() }()
	if err := pg.CreateDB(ctx, "vigil"); err != nil {
		t.Fatal(err)
	}
	db := "VIGIL_COLLECTOR_DB=" + pg.ConnString("vigil")
	sock := filepath.Join(dir, "read.sock")
	collector, url, ca := startCollector(t, dir, pg.ConnString("vigil"), "--read-socket", sock)

	admin := func(args ...string) string {
		cmd := exec.Command(binPath("vigil-collector"), args...)
		cmd.Env = append(os.Environ(), db)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("vigil-collector %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var hosts []*fleetHost
	for i := range 3 {
		h := &fleetHost{name: fmt.Sprintf("h%d.example.com", i), dir: filepath.Join(dir, fmt.Sprint("host", i)),
			key: filepath.Join(dir, fmt.Sprint("host", i, ".key"))}
		if err := os.Mkdir(h.dir, 0o750); err != nil {
			t.Fatal(err)
		}
		if h.priv, err = keys.Generate(); err != nil {
			t.Fatal(err)
		}
		if err := keys.WritePrivate(h.key, h.priv); err != nil {
			t.Fatal(err)
		}
		token := regexp.MustCompile(`--token ([0-9a-f]{64})`).FindStringSubmatch(admin("hosts", "add", "--url", url, h.name))[1]
		var out []byte
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			cmd := exec.Command(binPath("vigil-ship"), "enroll", "--collector", url, "--ca", ca, "--key", h.key, "--host", h.name, "--token", token)
			if out, err = cmd.CombinedOutput(); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatalf("enroll %s: %v\n%s\ncollector:\n%s", h.name, err, out, collector.out)
		}
		h.ship = startDaemon(t, "vigil-ship", nil, "--collector", url, "--ca", ca, "--key", h.key, "--host", h.name, "--dir", h.dir)
		hosts = append(hosts, h)
	}

	// Sessions on every host, throughout the faults.
	var sessions []<-chan error
	for _, h := range hosts {
		sessions = append(sessions, h.session(t, "long-"+h.name, int((25*time.Second+outage)/(50*time.Millisecond)), 50*time.Millisecond))
	}
	short := func(round int) {
		for _, h := range hosts {
			sessions = append(sessions, h.session(t, fmt.Sprintf("short%d-%s", round, h.name), 20, 10*time.Millisecond))
		}
	}
	short(0)
	time.Sleep(3 * time.Second)
	t.Log("the collector killed mid-stream")
	collector.kill(syscall.SIGKILL)
	short(1)
	time.Sleep(2 * time.Second)
	collector.start()
	time.Sleep(3 * time.Second)
	t.Log("PostgreSQL restarted")
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	short(2)
	time.Sleep(time.Second)
	if pg, err = pgcluster.Start(ctx, filepath.Join(dir, "pg"), pgcluster.Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	t.Log("a shipper killed")
	hosts[1].ship.kill(syscall.SIGKILL)
	short(3)
	time.Sleep(time.Second)
	hosts[1].ship.start()
	time.Sleep(2 * time.Second)
	t.Logf("the collector away for %v", outage)
	collector.kill(syscall.SIGTERM)
	short(4)
	time.Sleep(outage)
	collector.start()

	// A forged recording: h2's directory holds one naming h0.
	forged := &fleetHost{name: hosts[0].name, dir: hosts[2].dir, priv: hosts[2].priv}
	sessions = append(sessions, forged.session(t, "forged", 5, time.Millisecond))
	for _, s := range sessions {
		if err := <-s; err != nil {
			t.Fatal(err)
		}
	}

	// Everything the hosts wrote reaches the collector, byte for byte.
	c, err := remote.Dial(sock, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := map[string][]byte{} // HOST/FILE
	var forgedName string
	for _, h := range hosts {
		files, _ := filepath.Glob(filepath.Join(h.dir, "*.jsonl"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(f, "-forged") {
				forgedName = remote.Name(hosts[2].name, filepath.Base(f))
				continue
			}
			want[remote.Name(h.name, filepath.Base(f))] = data
		}
	}
	if len(want) != 3*6 || forgedName == "" {
		t.Fatalf("%d recordings written, want %d, and the forged one (%q)", len(want), 3*6, forgedName)
	}
	caughtUp := time.Now()
	var missing []string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		missing = missing[:0]
		for name, data := range want {
			host, file, _ := remote.ParseName(name)
			body, err := c.Open(ctx, host, file, 0)
			var got []byte
			if err == nil {
				got, err = io.ReadAll(body)
				body.Close()
			}
			if err != nil || !bytes.Equal(got, data) {
				missing = append(missing, fmt.Sprintf("%s (%d of %d bytes, %v)", name, len(got), len(data), err))
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(missing) > 0 {
		t.Fatalf("not at the collector a minute after the sessions ended: %s\ncollector:\n%s", strings.Join(missing, ", "), collector.out)
	}
	t.Logf("caught up %.1f s after the last session ended", time.Since(caughtUp).Seconds())

	// Each verifies OK, as the collector says and as verify finds.
	out, err := exec.Command(binPath("vigil-play"), "list", "--server", sock, "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for line := range strings.Lines(string(out)) {
		var row struct{ File, State string }
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		states[row.File] = row.State
	}
	for name := range want {
		if states[name] != "OK" {
			t.Errorf("%s: listed %q, want OK", name, states[name])
		}
	}
	if _, ok := states[forgedName]; ok || len(states) != len(want) {
		t.Errorf("the collector lists %d recordings (forged %q there: %v), want the %d written", len(states), forgedName, ok, len(want))
	}
	if !strings.Contains(hosts[2].ship.out.String(), "another host") && !strings.Contains(hosts[2].ship.out.String(), "Forbidden") {
		t.Errorf("h2's shipper does not report the refused forged recording:\n%s", hosts[2].ship.out)
	}
	verifyOut, err := exec.Command(binPath("vigil-play"), "verify", "--server", sock).CombinedOutput()
	if err != nil || strings.Count(string(verifyOut), ": OK") != len(want) {
		t.Errorf("verify --server: %v\n%s", err, verifyOut)
	}

	// A recording edited on its host after it was shipped: the collector's
	// copy stays as it was, and the host's no longer matches it.
	long, _ := filepath.Glob(filepath.Join(hosts[1].dir, "*-long-*.jsonl"))
	if len(long) != 1 {
		t.Fatalf("long recordings of h1: %q", long)
	}
	data := want[remote.Name(hosts[1].name, filepath.Base(long[0]))]
	edited := bytes.Replace(data, []byte(" line 7 of "), []byte(" line 8 of "), 1)
	if err := os.WriteFile(long[0], edited, 0o640); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the shipper looks at it again
	cmp := exec.Command(binPath("vigil-play"), "verify", "--server", sock, "--compare", long[0])
	out, _ = cmp.Output()
	if code := cmp.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), ": MODIFIED at line ") {
		t.Errorf("verify --compare of the edited file: %d %q", code, out)
	}
	out, err = exec.Command(binPath("vigil-play"), "verify", "--server", sock, remote.Name(hosts[1].name, filepath.Base(long[0]))).Output()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Errorf("the collector's copy after the host's was edited: %v %q", err, out)
	}

	// The host's retention reaches the collector: a hold placed with
	// vigilctl (and the recording it holds kept from the collector's
	// purge: pgstore tests), a purge record the collector keeps when the
	// host's copy is deleted.
	hold := exec.Command(binPath("vigilctl"), "hold", "--dir", hosts[1].dir, "--reason", "case 4711", "long-"+hosts[1].name)
	if out, err := hold.CombinedOutput(); err != nil {
		t.Fatalf("vigilctl hold: %v\n%s", err, out)
	}
	rec := &store.PurgeRecord{Time: time.Now().UTC().Truncate(time.Second), Host: hosts[1].name, By: "root"}
	recPath, _, err := store.AppendPurgeRecord(store.PurgedDir(hosts[1].dir), rec, hosts[1].priv)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		holds := admin("holds", "list")
		purges := exec.Command(binPath("vigil-collector"), "purges", "host", hosts[1].name)
		purges.Env = append(os.Environ(), db)
		pout, _ := purges.CombinedOutput()
		if strings.Contains(holds, "case 4711") && strings.Contains(holds, "(on the host)") &&
			strings.Contains(string(pout), filepath.Base(recPath)+": OK") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host's hold and purge record not at the collector:\n%s\n%s", holds, pout)
		}
	}
	if err := os.Remove(recPath); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the shipper looks at the directory again
	if out := admin("purges", "host", hosts[1].name); !strings.Contains(out, filepath.Base(recPath)+": OK") {
		t.Errorf("the collector's copy of a purge record deleted on the host: %q", out)
	}
	out, err = exec.Command(binPath("vigil-play"), "list", "--server", sock, "--held", "--json").Output()
	if err != nil || strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), "case 4711") {
		t.Errorf("list --server --held: %v %q", err, out)
	}

	// A revoked host is heard no more; what it sent stays.
	admin("hosts", "revoke", hosts[0].name)
	if err := <-hosts[0].session(t, "after-revoke", 3, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	out, _ = exec.Command(binPath("vigil-play"), "list", "--server", sock, "--host", hosts[0].name).Output()
	if strings.Contains(string(out), "after-revoke") || strings.Count(string(out), hosts[0].name+"/") != 6 {
		t.Errorf("after revoking %s the collector lists:\n%s", hosts[0].name, out)
	}
	if !strings.Contains(collector.out.String(), "host revoked") {
		t.Errorf("the collector does not log the revoked host's attempt:\n%s", collector.out)
	}
}
