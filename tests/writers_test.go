package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/svctest"
	"github.com/vigil-rec/vigil/rec/verify"
)

// verifyLines checks a recording given as its message lines.
func verifyLines(t *testing.T, e recEnv, lines []byte) verify.Report {
	t.Helper()
	trusted, err := keys.LoadPublic(e.key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	reports, err := verify.Recordings(bytes.NewReader(lines), trusted)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 || reports[0].State != verify.OK {
		t.Fatalf("verify: %v", reports)
	}
	return reports[0]
}

// vigil-rec -w journal against a real systemd-journald: entries carry the
// TLOG_* fields, tlog-play -r journal replays exactly what the user saw,
// and the messages verify.
func TestRecJournalWriter(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	svctest.StartJournald(t)
	e := newRecEnv(t)
	term := startTerminal(t, 90, 30, binPath("vigil-rec"),
		e.args("-w", "journal", "--", "sh", "-c", `echo journal test; printf '\377 é\n'; exit 2`)...)
	if got := term.wait(20 * time.Second); got != 2 {
		t.Fatalf("exit %d: %q", got, term.screen())
	}
	svctest.SyncJournal(t)
	out, err := exec.Command("journalctl", "-D", svctest.JournalDir, "-o", "json", "-a", "SYSLOG_IDENTIFIER=vigil-rec").Output()
	if err != nil {
		t.Fatalf("journalctl: %v", err)
	}
	var lines bytes.Buffer
	rec := ""
	for _, l := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var ent map[string]any
		if err := json.Unmarshal(l, &ent); err != nil {
			t.Fatalf("journal entry: %v", err)
		}
		for _, f := range []string{"TLOG_REC", "TLOG_USER", "TLOG_SESSION", "TLOG_ID", "MESSAGE"} {
			if _, ok := ent[f].(string); !ok {
				t.Fatalf("journal entry lacks %s: %s", f, l)
			}
		}
		rec = ent["TLOG_REC"].(string)
		m := ent["MESSAGE"].(string)
		if strings.HasSuffix(m, "\n") {
			t.Errorf("MESSAGE ends in a newline (tlog's does not): %q", m)
		}
		lines.WriteString(m + "\n")
	}
	if rec == "" {
		t.Fatal("no journal entries from vigil-rec")
	}
	verifyLines(t, e, lines.Bytes())
	// tlog's own journal entries have the same shape.
	tlog := exec.Command("tlog-rec", "-w", "journal", "--journal-augment", "/bin/echo", "tlog-journal-test")
	if out, err := tlog.CombinedOutput(); err != nil {
		t.Fatalf("tlog-rec -w journal: %v\n%s", err, out)
	}
	svctest.SyncJournal(t)
	out, err = exec.Command("journalctl", "-D", svctest.JournalDir, "-o", "json", "-a", "SYSLOG_IDENTIFIER=tlog-rec").Output()
	if err != nil || len(out) == 0 {
		t.Fatalf("journalctl: %v %q", err, out)
	}
	for _, l := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var ent struct{ MESSAGE string }
		if err := json.Unmarshal(l, &ent); err != nil || !strings.HasPrefix(ent.MESSAGE, `{"ver":`) || strings.HasSuffix(ent.MESSAGE, "\n") {
			t.Errorf("tlog-rec's MESSAGE is not a JSON line without its newline (%v): %q", err, ent.MESSAGE)
		}
	}
	// Vigil's own tools read it back from the journal.
	if out, err := exec.Command(binPath("vigil-play"), "verify", "-k", e.key+".pub", "-r", "journal", rec).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "journal:TLOG_REC="+rec+": recording "+rec+": OK;") {
		t.Errorf("vigil-play verify -r journal: %v\n%s", err, out)
	}
	// Every recording in the journal: tlog's is unsigned, so exit 1.
	if out, err := exec.Command(binPath("vigil-play"), "verify", "-k", e.key+".pub", "-r", "journal").CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "recording "+rec+": OK;") || !strings.Contains(string(out), ": UNSIGNED: no integrity fields") {
		t.Errorf("vigil-play verify -r journal (every recording): %v\n%s", err, out)
	}
	played := tlogPlay(t, "-r", "journal", "-M", "TLOG_REC="+rec)
	if !bytes.Equal(played, term.screen()) {
		t.Errorf("tlog-play -r journal differs\nplayed %q\nscreen %q", played, term.screen())
	}
}

// vigil-rec -w syslog against a real rsyslogd: every message arrives
// whole, with facility authpriv and the configured priority, and verifies.
func TestRecSyslogWriter(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	e := newRecEnv(t)
	logFile := filepath.Join(t.TempDir(), "authpriv.log")
	svctest.StartRsyslog(t, 64<<10, `template(name="raw" type="string" string="%syslogfacility-text%.%syslogseverity-text% %programname%: %msg:2:$%\n")
authpriv.* action(type="omfile" file="`+logFile+`" template="raw")`)
	cmd := exec.Command(binPath("vigil-rec"), e.args("-w", "syslog", "--syslog-priority=notice", "--payload=256",
		"--", "sh", "-c", `i=0; while [ $i -lt 300 ]; do echo "syslog line $i"; i=$((i+1)); done`)...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	var got []byte
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got, _ = os.ReadFile(logFile)
		if bytes.Contains(got, []byte(`"end":true`)) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var lines bytes.Buffer
	for _, l := range strings.SplitAfter(string(got), "\n") {
		if l == "" {
			continue
		}
		prefix := "authpriv.notice vigil-rec: "
		if !strings.HasPrefix(l, prefix) {
			t.Fatalf("syslog line %q lacks %q", l, prefix)
		}
		lines.WriteString(strings.TrimPrefix(l, prefix))
	}
	r := verifyLines(t, e, lines.Bytes())
	if r.Messages < 15 {
		t.Errorf("only %d messages with payload 256", r.Messages)
	}
	if !bytes.Contains(lines.Bytes(), []byte("syslog line 299")) {
		t.Errorf("output missing from syslog: %.300s", lines.String())
	}
}
