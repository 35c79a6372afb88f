package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/devmode"
	"github.com/vigil-rec/vigil/play/collector/pgstore"
	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/play/collector/server"
	"github.com/vigil-rec/vigil/play/internal/recgen"
	"github.com/vigil-rec/vigil/play/remote"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
)

// fleet is a collector holding one host's recording, served over HTTPS and
// over its local socket, and the same recording as a file.
type fleet struct {
	sock, url, ca string
	name          string // HOST/FILE
	file          string // the host's file
	pub           string // the host's public key file
	st            *pgstore.Store
}

func newFleet(t *testing.T) *fleet {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := pgstore.Open(ctx, pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	dir := t.TempDir()
	key, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{st: st, pub: filepath.Join(dir, "host.pub"), sock: filepath.Join(dir, "read.sock"), ca: filepath.Join(dir, devmode.CAFile)}
	if err := keys.WritePublic(f.pub, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	const host = "h1.example.com"
	m := recgen.Meta{Rec: "rec-1", User: "alice", Host: host, Start: time.Now().Add(-time.Hour).Truncate(time.Millisecond), Key: key}
	var b bytes.Buffer
	chunks := func(yield func(recgen.Chunk) bool) {
		rnd := mrand.New(mrand.NewPCG(7, 7))
		for j := range 20 {
			if !yield(recgen.Chunk{T: time.Duration(j) * 100 * time.Millisecond, Data: recgen.Terminal(nil, rnd, 1500)}) {
				return
			}
		}
	}
	if err := recgen.Write(&b, m, chunks); err != nil {
		t.Fatal(err)
	}
	base := store.Meta{Start: m.Start, Host: host, User: m.User, Rec: m.Rec}.Name(0)
	f.file, f.name = filepath.Join(dir, base), host+"/"+base
	if err := os.WriteFile(f.file, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.AddHost(ctx, host); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddHostKey(ctx, host, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, host, base, 0, b.Bytes()); err != nil {
		t.Fatal(err)
	}
	// Its command log, beside the file and at the collector.
	logPath, err := recgen.CommandLog(dir, m, []recgen.Command{{T: time.Second, UID: 0, Cwd: "/tmp", Argv: []string{"ls", "-l"}},
		{T: 1500 * time.Millisecond, Lost: "the kernel lost 1 audit records"}, {T: 2 * time.Second, Cwd: "/", Argv: []string{"id"}, Exit: -2}}, false)
	if err != nil {
		t.Fatal(err)
	}
	cmdLog, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendCommands(ctx, host, "rec-1.jsonl", 0, cmdLog); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := server.New(st, log)
	local, err := server.ListenLocal(f.sock, "")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.url = "https://" + l.Addr().String()
	cert, err := devmode.Certificates(dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { done <- server.ServeLocal(ctx, local, h, log, time.Second) }()
	go func() { done <- server.Serve(ctx, l, cert, h, log, time.Second) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	})
	return f
}

// jsonLines decodes out, one JSON object per line, with the "file" field
// taken out.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for line := range strings.Lines(out) {
		var o map[string]any
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		delete(o, "file")
		objs = append(objs, o)
	}
	return objs
}

// Every reading command gives from a collector, over its local socket and
// over HTTPS as an enrolled reader, what it gives from the host's file.
func TestServer(t *testing.T) {
	f := newFleet(t)
	identity := filepath.Join(t.TempDir(), "me", "reader.key")
	if code, out, errOut := runCLI("", "keygen", identity); code != 0 || !strings.Contains(out, "vigil-collector readers add") {
		t.Fatalf("keygen: %d %q %q", code, out, errOut)
	}
	if fi, err := os.Stat(identity); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("reader key: %v %v, want mode 0600", fi, err)
	}
	if code, _, errOut := runCLI("", "keygen", identity); code == 0 {
		t.Errorf("keygen over an existing key: exit 0 (%q)", errOut)
	}
	https := []string{"--server", f.url, "--ca", f.ca, "--identity", identity}
	if code, _, errOut := runCLI("", append([]string{"list"}, https...)...); code != exitUsageErr || !strings.Contains(errOut, "Forbidden") {
		t.Errorf("list by a reader not added yet: %d %q, want 2 and Forbidden", code, errOut)
	}
	set, err := keys.LoadPublic(identity + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	for _, pub := range set {
		if _, err := f.st.AddReader(context.Background(), "auditor", pub); err != nil {
			t.Fatal(err)
		}
	}

	local := func(args ...string) (int, string, string) { return runCLI("", args...) }
	for _, via := range [][]string{{"--server", f.sock}, https} {
		remote := func(args ...string) (int, string, string) {
			return runCLI("", slices.Concat(args[:1], via, args[1:])...)
		}
		t.Run(via[1], func(t *testing.T) {
			code, out, errOut := remote("list", "--json")
			_, want, _ := local("list", "--json", "-k", f.pub, f.file)
			if code != 0 || !reflect.DeepEqual(jsonLines(t, out), jsonLines(t, want)) || !strings.Contains(out, `"file":"`+f.name+`"`) {
				t.Errorf("list --json: %d %q %q\nwant (but for the file) %q", code, out, errOut, want)
			}
			if code, out, _ := remote("list"); code != 0 || !strings.Contains(out, f.name) || !strings.Contains(out, " OK ") {
				t.Errorf("list: %d %q", code, out)
			}
			// Pages of the collector's list; what it verified stays.
			if code, out, errOut := remote("list", "--json", "--reverse", "--limit", "1"); code != 0 || !reflect.DeepEqual(jsonLines(t, out), jsonLines(t, want)) {
				t.Errorf("list --reverse --limit 1: %d %q %q", code, out, errOut)
			}
			if code, out, errOut := remote("list", "--limit", "1", "--offset", "1"); code != 0 || strings.Contains(out, f.name) {
				t.Errorf("list --limit 1 --offset 1: %d %q %q", code, out, errOut)
			}
			if code, _, errOut := remote("list", "--verify-max-bytes", "1"); code != exitUsageErr {
				t.Errorf("list --verify-max-bytes: %d %q, want a usage error", code, errOut)
			}
			// A legal hold at the collector shows as on a host.
			host, file, _ := strings.Cut(f.name, "/")
			if err := f.st.Hold(context.Background(), host, file, "case 4711", "auditor"); err != nil {
				t.Fatal(err)
			}
			code, out, errOut = remote("list", "--held", "--json")
			if code != 0 || !strings.Contains(out, `"hold":{"rec":"rec-1","file":"`+f.name+`","since":"`) || !strings.Contains(out, `"by":"auditor","reason":"case 4711"}`) {
				t.Errorf("list --held --json: %d %q %q", code, out, errOut)
			}
			if code, out, _ := remote("list"); code != 0 || !strings.Contains(out, " HELD ") {
				t.Errorf("list of a held recording: %d %q", code, out)
			}
			if _, err := f.st.Release(context.Background(), host, file, "auditor"); err != nil {
				t.Fatal(err)
			}
			if code, out, _ := remote("list", "--held"); code != 0 || strings.Contains(out, f.name) {
				t.Errorf("list --held after release: %d %q", code, out)
			}

			// The command log the host shipped reads as the host's own.
			code, out, errOut = remote("commands", f.name)
			_, want, _ = local("commands", "-k", f.pub, f.file)
			if code != 0 || out != strings.ReplaceAll(want, f.file, f.name) || !strings.Contains(out, "ls -l") {
				t.Errorf("commands: %d %q %q\nwant %q", code, out, errOut, want)
			}
			if code, _, errOut := remote("commands", host+"/nosuch.jsonl"); code != exitUsageErr || !strings.Contains(errOut, "no such recording") {
				t.Errorf("commands of no recording: %d %q", code, errOut)
			}
			code, out, errOut = remote("export", "--format", "text", f.name)
			_, want, _ = local("export", "--format", "text", f.file)
			if code != 0 || out != want || len(want) < 1000 {
				t.Errorf("export --format text: %d, %d bytes %q; want %d bytes", code, len(out), errOut, len(want))
			}
			// The web page's player: spans, from the screen at a time on.
			span := []string{"-F", "json", "--filtered", "-m", "rec-1", "--max-bytes", "4096", "--from", "0.55", "--to", "1.5"}
			code, out, errOut = remote(slices.Concat([]string{"export"}, span, []string{f.name})...)
			_, want, _ = local(slices.Concat([]string{"export"}, span, []string{f.file})...)
			if code != 0 || out != want || !strings.HasPrefix(out, `{"time":0.550,"kind":"screen"`) {
				t.Errorf("export of a span: %d %.200q %q; want %.200q", code, out, errOut, want)
			}
			code, out, errOut = remote("play", "--speed", "1000", f.name)
			_, want, _ = local("play", "--speed", "1000", f.file)
			if code != 0 || out != want {
				t.Errorf("play: %d, %d bytes %q; want %d bytes", code, len(out), errOut, len(want))
			}
			code, out, errOut = remote("play", "--goto", "end", f.name)
			_, want, _ = local("play", "--goto", "end", f.file)
			if code != 0 || out != want {
				t.Errorf("play --goto end: %d, %d bytes %q; want %d bytes", code, len(out), errOut, len(want))
			}

			code, out, errOut = remote("verify", f.name)
			_, want, _ = local("verify", "-k", f.pub, f.file)
			// The recording and its command log, as from the host's files.
			if code != 0 || !strings.HasPrefix(out, f.name+": recording rec-1: OK") || !strings.Contains(out, f.name+": commands of rec-1: OK") ||
				strings.ReplaceAll(out, f.name, "") != strings.ReplaceAll(want, f.file, "") {
				t.Errorf("verify: %d %q %q; want %q", code, out, errOut, want)
			}
			if code, out, _ := remote("verify", "-k", identity+".pub"); code != exitFailed || !strings.Contains(out, "UNKNOWN_KEY") {
				t.Errorf("verify against another key: %d %q, want 1 and UNKNOWN_KEY", code, out)
			}

			_, all, _ := local("export", "--format", "text", f.file)
			text := strings.Fields(all)[len(strings.Fields(all))/2]
			code, out, errOut = remote("search", "--json", text)
			_, want, _ = local("search", "--json", text, f.file)
			if code != 0 || !reflect.DeepEqual(jsonLines(t, out), jsonLines(t, want)) {
				t.Errorf("search --json %q: %d %q %q\nwant %q", text, code, out, errOut, want)
			}
			if code, out, errOut := remote("search", text); code != 0 || !strings.HasPrefix(out, f.name+"  +") || !strings.Contains(errOut, "play --server") {
				t.Errorf("search: %d %q %q", code, out, errOut)
			}
			if code, out, _ := remote("search", "--host", "other.example.com", text); code != exitFailed || out != "" {
				t.Errorf("search of another host: %d %q, want 1 and nothing", code, out)
			}
			if code, _, errOut := remote("export", "--format", "raw", "h1.example.com/nope.jsonl"); code != exitFailed || !strings.Contains(errOut, "Not Found") {
				t.Errorf("export of no recording: %d %q", code, errOut)
			}
		})
	}
	// A host's file compared with the collector's copy: the same, edited
	// after shipping, cut, or grown since.
	data, err := os.ReadFile(f.file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	edited := strings.Join(lines[:2], "") + strings.Replace(lines[2], "alice", "alicf", 1) + strings.Join(lines[3:], "")
	for _, c := range []struct {
		data, want string
		code       int
	}{
		{string(data), ": OK: identical to the collector's copy " + f.name, 0},
		{edited, ": MODIFIED at line 3: differs from the collector's copy " + f.name, exitFailed},
		{strings.Join(lines[:4], ""), ": TRUNCATED after line 4", exitFailed},
		{string(data) + lines[1], ": OK as far as shipped", 0},
	} {
		path := filepath.Join(t.TempDir(), filepath.Base(f.file))
		if err := os.WriteFile(path, []byte(c.data), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI("", "verify", "--server", f.sock, "--compare", path)
		if code != c.code || !strings.HasPrefix(out, path+c.want) {
			t.Errorf("verify --compare: %d %q %q, want %d %q", code, out, errOut, c.code, path+c.want)
		}
	}
	// A first line edited to name no host, or another: --host says whose
	// copy it is.
	for _, first := range []string{"{}\n", strings.Replace(lines[0], `"host":"`, `"host":"x`, 1)} {
		path := filepath.Join(t.TempDir(), filepath.Base(f.file))
		if err := os.WriteFile(path, []byte(first+strings.Join(lines[1:], "")), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := runCLI("", "verify", "--server", f.sock, "--compare", path); code != exitUsageErr || !strings.Contains(errOut, "--host") {
			t.Errorf("verify --compare of a file whose first line is %q: %d %q", first, code, errOut)
		}
		host, _, _ := remote.ParseName(f.name)
		code, out, errOut := runCLI("", "verify", "--server", f.sock, "--compare", "--host", host, path)
		if want := path + ": MODIFIED at line 1: differs from the collector's copy " + f.name; code != exitFailed || !strings.HasPrefix(out, want) {
			t.Errorf("verify --compare --host: %d %q %q, want %q", code, out, errOut, want)
		}
	}
	if code, _, errOut := runCLI("", "list", "--server", "http://"+f.url[len("https://"):]); code != exitUsageErr || !strings.Contains(errOut, "want https://") {
		t.Errorf("list --server http://: %d %q", code, errOut)
	}
}
