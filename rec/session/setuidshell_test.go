package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A setuid recorder trusts policyd's and /etc/passwd's shell; the
// environment's (SSSD's TLOG_REC_SESSION_SHELL) only when neither knows a
// real shell, and only a listed shell that is no recorder.
func TestSetuidRealShell(t *testing.T) {
	dir := t.TempDir()
	shells := filepath.Join(dir, "shells")
	self := filepath.Join(dir, "renamed-recorder")
	if err := os.WriteFile(self, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shells, []byte("/bin/sh\n/bin/bash\n/usr/bin/tlog-rec-session\n/usr/bin/vigil-rec-session\n"+self+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sssd := map[string]string{"TLOG_REC_SESSION_SHELL": "/bin/bash"}
	for _, tc := range []struct {
		name string
		src  ShellSources
		env  map[string]string
		want string
		err  string
	}{
		{"policyd wins", ShellSources{Policyd: "/bin/sh", Files: "/bin/bash"}, sssd, "/bin/sh", ""},
		{"policyd's nologin stays", ShellSources{Policyd: Nologin}, sssd, Nologin, ""},
		{"passwd wins over the environment", ShellSources{Files: "/bin/sh"}, sssd, "/bin/sh", ""},
		{"passwd's nologin stays", ShellSources{Files: Nologin}, sssd, Nologin, ""},
		{"passwd's unlisted shell is refused", ShellSources{Files: "/bin/false"}, sssd, Nologin, "passwd: shell \"/bin/false\" is not listed"},
		// SSSD: NSS names the recorder, pam_sss the real shell.
		{"SSSD user", ShellSources{}, sssd, "/bin/bash", ""},
		{"policyd names the recorder", ShellSources{Policyd: "/usr/bin/tlog-rec-session"}, sssd, "/bin/bash", ""},
		{"passwd names the recorder", ShellSources{Files: "/usr/bin//tlog-rec-session"}, sssd, "/bin/bash", ""},
		{"passwd names us", ShellSources{Files: self}, sssd, "/bin/bash", ""},
		{"VIGIL_REC_SHELL first", ShellSources{}, map[string]string{"VIGIL_REC_SHELL": "/bin/sh", "TLOG_REC_SESSION_SHELL": "/bin/bash"}, "/bin/sh", ""},
		{"environment cleaned", ShellSources{}, map[string]string{"TLOG_REC_SESSION_SHELL": "/bin//bash"}, "/bin/bash", ""},
		{"environment's nologin", ShellSources{}, map[string]string{"TLOG_REC_SESSION_SHELL": Nologin}, Nologin, ""},
		{"unlisted program", ShellSources{}, map[string]string{"TLOG_REC_SESSION_SHELL": "/usr/bin/python3"}, Nologin, `TLOG_REC_SESSION_SHELL: shell "/usr/bin/python3" is not listed`},
		{"relative", ShellSources{}, map[string]string{"TLOG_REC_SESSION_SHELL": "bash"}, Nologin, "not an absolute path"},
		{"a recorder", ShellSources{}, map[string]string{"TLOG_REC_SESSION_SHELL": "/usr/bin/tlog-rec-session"}, Nologin, "is a session recorder"},
		{"us under another name", ShellSources{}, map[string]string{"VIGIL_REC_SHELL": self}, Nologin, "is a session recorder"},
		{"nothing names a shell", ShellSources{Files: "/usr/bin/vigil-rec-session"}, nil, Nologin, "no real shell"},
	} {
		got, err := SetuidRealShell(tc.src, func(k string) string { return tc.env[k] }, shells, self)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: got %q, %v; want %q, %q", tc.name, got, err, tc.want, tc.err)
		}
	}
	if got, err := SetuidRealShell(ShellSources{}, func(string) string { return "/bin/bash" }, filepath.Join(dir, "missing"), self); got != Nologin || err == nil {
		t.Errorf("missing shells file: %q, %v", got, err)
	}
}
