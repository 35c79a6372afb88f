package session

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFilesShell(t *testing.T) {
	p := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(p, []byte("root:x:0:0:root:/root:/bin/bash\n+nis\nalice:x:1:1::/home/a:/bin/zsh\nbad:line\n"+
		"dave:x:2:2::/home/d:/bin//bash\neve:x:3:3::/home/e:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"alice": "/bin/zsh", "root": "/bin/bash", "bob": "", "bad": "",
		"dave": "/bin/bash", "eve": "/bin/sh"} {
		if got := FilesShell(p, name); got != want {
			t.Errorf("FilesShell(%s) = %q, want %q", name, got, want)
		}
	}
	if got := FilesShell("/nonexistent", "root"); got != "" {
		t.Errorf("missing file: %q", got)
	}
}
