package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/rec/svctest"
)

// endingWithin bounds how long a session may take to end once its
// terminal or its login program is gone (hang-up, 2 s, hang-up, 3 s,
// kill, plus the leftovers' grace).
const endingWithin = 12 * time.Second

// sessionPIDs reads NAME=PID pairs the session printed.
func sessionPIDs(t *testing.T, screen []byte, names ...string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	for _, n := range names {
		m := regexp.MustCompile(`\b` + n + `=([0-9]+)`).FindSubmatch(screen)
		if m == nil {
			t.Fatalf("the session did not print %s=PID:\n%q", n, screen)
		}
		pids[n], _ = strconv.Atoi(string(m[1]))
	}
	return pids
}

// sessionGone waits until none of the PIDs is a live process that was
// started with marker in its command line.
func sessionGone(t *testing.T, pids map[string]int, marker string) {
	t.Helper()
	alive := func() []string {
		var left []string
		for n, pid := range pids {
			cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err == nil && len(cmdline) > 0 && bytes.Contains(cmdline, []byte(marker)) && !bytes.Contains(stat, []byte(") Z ")) {
				left = append(left, fmt.Sprintf("%s=%d", n, pid))
			}
		}
		return left
	}
	deadline := time.Now().Add(endingWithin)
	for time.Now().Before(deadline) {
		if len(alive()) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("processes of the ended session still run: %v", alive())
}

// endOf returns the final message's recorder metadata of a recording.
func endOf(t *testing.T, rec string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	var last struct {
		Vigil struct {
			Meta map[string]any `json:"meta"`
		} `json:"vigil"`
	}
	if err := json.Unmarshal(lines[len(lines)-1], &last); err != nil {
		t.Fatalf("last line of %s: %v", rec, err)
	}
	return last.Vigil.Meta
}

// Ending a session ends it: once the recorder is vigil only it can no
// longer signal the user's processes, so it has policyd end every process
// below it, and the recording gets its signed end within a bounded time.
// Tried as the recorded user over ssh.
func TestLoginSessionEnds(t *testing.T) {
	if !svctest.InNamespace(t) {
		return
	}
	h := newLoginHost(t, loginPolicy, "")
	// The marker is in every command line the session starts, to tell its
	// processes from reused PIDs.
	const marker = "7391"
	start := func(t *testing.T) (*terminal, []string) {
		before := recordings(t)
		term := startTerminalCmd(t, 100, 30, ssh("alice", "-tt", "HOST"))
		term.waitFor("alice@", 20*time.Second)
		return term, before
	}
	ended := func(t *testing.T, before []string, pids map[string]int) map[string]any {
		t.Helper()
		began := time.Now()
		rec := waitRecording(t, before)
		if took := time.Since(began); took > endingWithin {
			t.Errorf("the recording ended %v after the session did", took)
		}
		sessionGone(t, pids, marker)
		verifyFile(t, rec, h.pub)
		return endOf(t, rec)
	}

	t.Run("sshd's session process killed, shell ignores SIGHUP", func(t *testing.T) {
		term, before := start(t)
		term.typeText("trap '' HUP; sleep " + marker + " & echo bg=$! shell=$$ sshd=$(ps -o ppid= -p $PPID | tr -d ' ') pids-$((40+2))\r")
		term.waitFor("pids-42", 10*time.Second)
		pids := sessionPIDs(t, term.screen(), "bg", "shell", "sshd")
		// The shell is bash, whose command line has no marker: follow it
		// by the background job, and check it by itself.
		term.typeText(fmt.Sprintf("kill -9 %d\r", pids["sshd"]))
		meta := ended(t, before, map[string]int{"bg": pids["bg"]})
		sessionGone(t, map[string]int{"shell": pids["shell"]}, "bash")
		if meta["ended"] == nil {
			t.Errorf("the end does not say the recorder ended processes: %v", meta)
		}
	})
	t.Run("client gone, shell ignores SIGHUP", func(t *testing.T) {
		term, before := start(t)
		term.typeText("trap '' HUP; sleep " + marker + " & echo bg=$! shell=$$ pids-$((40+2))\r")
		term.waitFor("pids-42", 10*time.Second)
		pids := sessionPIDs(t, term.screen(), "bg", "shell")
		_ = term.cmd.Process.Kill()
		ended(t, before, map[string]int{"bg": pids["bg"]})
		sessionGone(t, map[string]int{"shell": pids["shell"]}, "bash")
	})
	t.Run("processes left behind at logout", func(t *testing.T) {
		term, before := start(t)
		// A daemon that left the terminal and the shell's jobs.
		term.typeText("setsid -w sh -c 'sleep " + marker + " & echo left=$!' </dev/null; nohup sleep " + marker + " >/dev/null 2>&1 & echo job=$! pids-$((40+2))\r")
		term.waitFor("pids-42", 10*time.Second)
		pids := sessionPIDs(t, term.screen(), "left", "job")
		// nohup ignores SIGHUP and then execs sleep: until it has, the
		// logout's SIGHUP would end it and nothing would be left to kill.
		waitFor(t, "nohup to exec sleep", func() bool {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pids["job"]))
			return string(comm) == "sleep\n"
		})
		term.typeText("exit\r")
		term.wait(20 * time.Second)
		meta := ended(t, before, pids)
		if e, _ := meta["ended"].(map[string]any); e == nil || e["killed"] == nil {
			t.Errorf("the end does not say the leftovers were killed: %v", meta)
		}
	})
	t.Run("ssh host cmd leaves a background process", func(t *testing.T) {
		before := recordings(t)
		out, err := ssh("alice", "HOST", "sleep "+marker+" >/dev/null 2>&1 </dev/null & echo bg=$!").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "bg=") {
			t.Fatalf("ssh: %v\n%s", err, out)
		}
		ended(t, before, sessionPIDs(t, out, "bg"))
	})
}
