package sshdaudit

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/policyd/sshdcheck"
)

func TestAccept(t *testing.T) {
	o := Options{Accept: []string{"x11-forwarding", "authorized-keys"}}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if !o.accepted(sshdcheck.X11) || o.accepted(sshdcheck.TCPForwarding) || o.accepted("all") {
		t.Errorf("accepted: %v", o.acceptedKinds())
	}
	o.Accept = []string{"all"}
	if len(o.acceptedKinds()) != len(sshdcheck.Kinds) || !o.accepted("all") {
		t.Errorf("all: %v", o.acceptedKinds())
	}
	o.Accept = []string{"x11"}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), `"x11"`) {
		t.Errorf("unknown way: %v", err)
	}
}

func TestNames(t *testing.T) {
	if got := names([]string{"a", "b"}); got != "a, b" {
		t.Error(got)
	}
	if got := names([]string{"a", "b", "c", "d", "e", "f", "g"}); got != "a, b, c, d, e and 2 more" {
		t.Error(got)
	}
}

// Check's findings come in the order of sshdcheck.Kinds, as enable lists
// them.
func TestSortFindings(t *testing.T) {
	fs := []sshdcheck.Finding{{Kind: sshdcheck.AuthorizedKeys, Setting: "a"}, {Kind: sshdcheck.SFTPSubsystem},
		{Kind: sshdcheck.AuthorizedKeys, Setting: "b"}, {Kind: sshdcheck.X11}}
	sortFindings(fs)
	var got []string
	for _, f := range fs {
		got = append(got, string(f.Kind)+f.Setting)
	}
	if s := strings.Join(got, " "); s != "sftp-subsystem x11-forwarding authorized-keysa authorized-keysb" {
		t.Error(s)
	}
}

func TestReportPrint(t *testing.T) {
	f := sshdcheck.Finding{Kind: sshdcheck.X11, Setting: "X11Forwarding yes", What: "windows"}
	for _, c := range []struct {
		r    Report
		want string
	}{
		{Report{Note: "alice is not recorded"}, "  sshd:         not checked: alice is not recorded\n"},
		{Report{Error: "sshd -T: exit status 255"}, "  sshd:         cannot check: sshd -T: exit status 255\n"},
		{Report{Checked: true}, "  sshd:         nothing lets alice act outside the recorder\n"},
		{Report{Checked: true, Findings: []sshdcheck.Finding{f}}, "  sshd:         1 way for alice to act outside the recorder" +
			" (vigilctl enable --dry-run prints the lines that close them):\n    - X11Forwarding yes: windows [x11-forwarding]\n"},
		{Report{Checked: true, Findings: []sshdcheck.Finding{f, f}}, "  sshd:         2 ways for alice"},
	} {
		var b bytes.Buffer
		c.r.Print(&b, "alice")
		if !strings.HasPrefix(b.String(), c.want) {
			t.Errorf("%+v:\n%s\nwant\n%s", c.r, b.String(), c.want)
		}
	}
}

// A user the policy does not record is not asked about (nor is any user
// without sshd).
func TestCheckNotRecorded(t *testing.T) {
	no := false
	r := Check(Options{}, "alice", &no)
	if r.Checked || r.Error != "" || r.Findings == nil ||
		r.Note != "alice is not recorded" && r.Note != sshdcheck.SSHD+" is not installed" {
		t.Errorf("%+v", r)
	}
}

func TestPrintFix(t *testing.T) {
	var b bytes.Buffer
	printFix(&b, sshdcheck.Fix{Block: []string{"Match User alice", "\tX11Forwarding no"},
		Replace: [][2]string{{"Subsystem sftp internal-sftp", "Subsystem sftp /usr/lib/openssh/sftp-server"}},
		Manual:  []string{"ForceCommand internal-sftp: sftp only"}}, 902)
	want := "\nPut these lines first in sshd's configuration, as " + dropIn + " on Debian\n" +
		"(its sshd_config includes sshd_config.d/*.conf before its own settings):\n\nMatch User alice\n\tX11Forwarding no\n\n" +
		"Change this line where sshd's configuration has it (spacing may differ; OpenSSH 9.2 takes it\nonly once, and not in Match blocks):\n" +
		"  Subsystem sftp internal-sftp\nto\n  Subsystem sftp /usr/lib/openssh/sftp-server\n\n" +
		"Decide: ForceCommand internal-sftp: sftp only\n\n" +
		"Then restart sshd (systemctl restart ssh), see that vigilctl check USER finds nothing, and run vigilctl enable again.\n"
	if b.String() != want {
		t.Errorf("%s\nwant\n%s", b.String(), want)
	}
}
