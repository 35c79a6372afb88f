package ship

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/commands"
)

// A recording's command log reaches the collector as it grows, live, and
// lines edited on the host after they were shipped are refused there.
func TestCommandLogs(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(nil)
	f.recording("rec-1")
	t0 := time.Now().UTC()
	w, err := commands.Create(f.dir, commands.Entry{Rec: "rec-1", Time: t0, Start: t0, Host: host, User: "alice"}, f.key)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(argv ...string) {
		t.Helper()
		if err := w.Append(commands.Entry{Kind: commands.KindExec, Time: time.Now(), Cmd: &commands.Command{Argv: argv, OK: true}}); err != nil {
			t.Fatal(err)
		}
	}
	exec("ls")
	if err := f.shipper(srv.URL).Once(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	_, st := f.c.store()
	held := func() []byte {
		data, err := st.CommandLog(testCtx(t), host, "rec-1")
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	local := func() []byte {
		data, err := os.ReadFile(w.Path())
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if !bytes.Equal(held(), local()) {
		t.Fatalf("collector holds %q", held())
	}

	// Live: lines arrive within seconds of being written.
	stop := run(t, f.shipper(srv.URL))
	exec("id", "-u")
	if err := w.End(time.Now()); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !bytes.Equal(held(), local()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s the collector holds %d bytes of %d", len(held()), len(local()))
		}
	}
	stop()

	// Edited on the host afterwards and grown: the collector keeps its copy.
	edited := bytes.Replace(local(), []byte(`"id"`), []byte(`"rm"`), 1)
	if err := os.WriteFile(w.Path(), append(edited, edited[:bytes.IndexByte(edited, '\n')+1]...), 0o640); err != nil {
		t.Fatal(err)
	}
	before := held()
	if err := f.shipper(srv.URL).Once(testCtx(t)); err == nil {
		t.Error("shipping a log edited after it was shipped succeeded")
	}
	if !bytes.Equal(held(), before) {
		t.Error("the collector's copy changed")
	}
}
