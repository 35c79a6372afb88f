package loginhooks

import (
	"bytes"
	"strings"
	"testing"
)

func TestEnableNsswitch(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
		warn           string // substring of a warning
	}{
		{"debian", "passwd:         files systemd\ngroup:          files systemd\n",
			"passwd:         vigil [TRYAGAIN=return] files systemd\ngroup:          files systemd\n", ""},
		{"already present", "passwd: vigil files systemd\n", "passwd: vigil files systemd\n", ""},
		{"present but not first", "passwd: files vigil\n", "passwd: files vigil\n", "vigil comes after files"},
		{"no space", "passwd:files\n", "passwd:vigil [TRYAGAIN=return] files\n", ""},
		{"space before colon, tabs", "passwd :\tfiles\n", "passwd :\tvigil [TRYAGAIN=return] files\n", ""},
		{"compat", "passwd: compat\n", "passwd: vigil [TRYAGAIN=return] compat\n", ""},
		{"sss", "passwd: files sss\n", "passwd: vigil [TRYAGAIN=return] files sss\n", ""},
		{"sss first", "passwd: sss files\n", "passwd: vigil [TRYAGAIN=return] sss files\n", ""},
		{"actions", "passwd: files [NOTFOUND=return] nis\n", "passwd: vigil [TRYAGAIN=return] files [NOTFOUND=return] nis\n", ""},
		{"comments", "# passwd: compat\n#passwd: files\npasswd: files systemd # local users first\nshadow: files\n",
			"# passwd: compat\n#passwd: files\npasswd: vigil [TRYAGAIN=return] files systemd # local users first\nshadow: files\n", ""},
		{"other databases untouched", "passwdx: files\npasswd: files\n", "passwdx: files\npasswd: vigil [TRYAGAIN=return] files\n", ""},
		{"no final newline", "hosts: files dns\npasswd: files", "hosts: files dns\npasswd: vigil [TRYAGAIN=return] files", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, warns, err := nssEnable([]byte(c.in), "nsswitch.conf")
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.want {
				t.Errorf("enable:\n%q\nwant\n%q", out, c.want)
			}
			if w := strings.Join(warns, "\n"); (c.warn == "") != (w == "") || !strings.Contains(w, c.warn) {
				t.Errorf("warnings %q, want %q", w, c.warn)
			}
			again, _, _ := nssEnable(out, "nsswitch.conf")
			if !bytes.Equal(again, out) {
				t.Errorf("enable is not idempotent: %q", again)
			}
			// disable undoes enable exactly (what was there before enable
			// stays, as "already present" shows).
			back, removed, _ := nssDisable(out, "nsswitch.conf")
			if strings.Contains(c.in, "vigil") {
				return
			}
			if !removed || string(back) != c.in {
				t.Errorf("disable: removed=%v\n%q\nwant\n%q", removed, back, c.in)
			}
			if again, removed, _ := nssDisable(back, "nsswitch.conf"); removed || !bytes.Equal(again, back) {
				t.Errorf("disable is not idempotent: %q", again)
			}
		})
	}

	for _, c := range []struct{ in, want string }{
		{"passwd: files vigil\n", "passwd: files\n"},
		{"passwd: vigil [UNAVAIL=return] files\n", "passwd: files\n"},
		{"passwd: files vigil [UNAVAIL=return] # x\n", "passwd: files # x\n"},
		{"passwd: vigil\n", "passwd: files\n"},
	} {
		if out, removed, _ := nssDisable([]byte(c.in), "nsswitch.conf"); !removed || string(out) != c.want {
			t.Errorf("disable %q = %q, want %q", c.in, out, c.want)
		}
	}
	for _, in := range []string{"hosts: files\n", "passwd:\n"} {
		if _, _, err := nssEnable([]byte(in), "/etc/nsswitch.conf"); err == nil || !strings.HasPrefix(err.Error(), "/etc/nsswitch.conf") {
			t.Errorf("enable %q: error %v, want one naming the file", in, err)
		}
	}
	if _, _, err := nssEnable([]byte("hosts: files\npasswd:\n"), "nsswitch.conf"); err == nil || !strings.Contains(err.Error(), "nsswitch.conf:2:") {
		t.Errorf("empty passwd line: %v, want nsswitch.conf:2:", err)
	}
}
