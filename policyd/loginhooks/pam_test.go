package loginhooks

import (
	"bytes"
	"strings"
	"testing"
)

// debianSSHD is Debian 12's /etc/pam.d/sshd (openssh-server 1:9.2p1-2).
const debianSSHD = `# PAM configuration for the Secure Shell service

# Standard Un*x authentication.
@include common-auth

# Disallow non-root logins when /etc/nologin exists.
account    required     pam_nologin.so

# Standard Un*x authorization.
@include common-account

# SELinux needs to be the first session rule.  This ensures that any
# lingering context has been cleared.  Without this it is possible that a
# module could execute code in the wrong domain.
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so close

# Set the loginuid process attribute.
session    required     pam_loginuid.so

# Create a new session keyring.
session    optional     pam_keyinit.so force revoke

# Standard Un*x session setup and teardown.
@include common-session

# Print the message of the day upon successful login.
session    optional     pam_motd.so  motd=/run/motd.dynamic
session    optional     pam_motd.so noupdate

# Print the status of the user's mailbox upon successful login.
session    optional     pam_mail.so standard noenv # [1]

# Set up user limits from /etc/security/limits.conf.
session    required     pam_limits.so

# Read environment variables from /etc/environment and
# /etc/security/pam_env.conf.
session    required     pam_env.so # [1]
# In Debian 4.0 (etch), locale-related environment variables were moved to
# /etc/default/locale, so read that as well.
session    required     pam_env.so user_readenv=1 envfile=/etc/default/locale

# SELinux needs to intervene at login time to ensure that the process starts
# in the proper default security context.  Only sessions which are intended
# to run in the user's context should be run after this.
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so open

# Standard Un*x password updating.
@include common-password
`

// debianLogin is the session part of Debian 12's /etc/pam.d/login: its
// pam_env lines come before common-session.
const debianLogin = `session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so close
session       required   pam_loginuid.so
session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so open
session       required   pam_env.so readenv=1
session       required   pam_env.so readenv=1 envfile=/etc/default/locale
@include common-auth
session    optional   pam_group.so
session    required   pam_limits.so
session    optional   pam_lastlog.so
session    optional   pam_motd.so motd=/run/motd.dynamic
session    optional   pam_motd.so noupdate
session    optional   pam_mail.so standard
session    optional   pam_keyinit.so force revoke
@include common-session
@include common-password
`

func TestEnablePAMService(t *testing.T) {
	out, line := pamServiceEnable([]byte(debianSSHD))
	lines := strings.Split(string(out), "\n")
	if line == 0 || lines[line-1] != pamLine || lines[line-2] != pamMarker {
		t.Fatalf("sshd: line %d:\n%s", line, out)
	}
	// Right after the pam_env that reads ~/.pam_environment, before
	// pam_selinux open (nothing after it should run in another context).
	if !strings.Contains(lines[line-3], "pam_env.so user_readenv=1") ||
		!strings.Contains(string(out), pamLine+"\n\n# SELinux needs to intervene") {
		t.Errorf("sshd: pam_vigil not right after pam_env user_readenv=1:\n%s", out)
	}
	if again, n := pamServiceEnable(out); n != 0 || !bytes.Equal(again, out) {
		t.Errorf("enable is not idempotent (line %d)", n)
	}
	if refs := pamReferences(out); len(refs) != 1 || refs[0] != line {
		t.Errorf("references %v, want [%d]", refs, line)
	}
	back, removed, warns := pamServiceDisable(out, "sshd")
	if removed != 1 || len(warns) > 0 || string(back) != debianSSHD {
		t.Errorf("disable: removed %d, %v:\n%s", removed, warns, back)
	}
	if again, removed, _ := pamServiceDisable(back, "sshd"); removed != 0 || !bytes.Equal(again, back) {
		t.Error("disable is not idempotent")
	}

	for _, c := range []struct {
		name, in string
		change   bool
	}{
		{"login: pam_env before common-session", debianLogin, false},
		{"no user_readenv", strings.Replace(debianSSHD, "user_readenv=1 ", "", 1), false},
		{"user_readenv=0", strings.Replace(debianSSHD, "user_readenv=1", "user_readenv=0", 1), false},
		{"no common-session", strings.Replace(debianSSHD, "@include common-session", "@include common-session-noninteractive", 1), false},
		{"pam_vigil already after pam_env", debianSSHD + "session required /usr/lib/x86_64-linux-gnu/security/pam_vigil.so\n", false},
		{"session include", strings.Replace(debianSSHD, "@include common-session", "session include common-session", 1), true},
		{"-session pam_env", strings.Replace(debianSSHD, "session    required     pam_env.so user_readenv", "-session    required     pam_env.so user_readenv", 1), true},
		{"pam_vigil before pam_env", strings.Replace(debianSSHD, "@include common-session\n", "@include common-session\nsession required pam_vigil.so\n", 1), true},
		{"no final newline", "@include common-session\nsession required pam_env.so user_readenv=1", true},
	} {
		out, n := pamServiceEnable([]byte(c.in))
		if (n != 0) != c.change {
			t.Errorf("%s: changed=%v, want %v:\n%s", c.name, n != 0, c.change, out)
			continue
		}
		if back, _, _ := pamServiceDisable(out, c.name); string(back) != c.in {
			t.Errorf("%s: disable does not restore the file:\n%q\nwant\n%q", c.name, back, c.in)
		}
	}
	if out, n := pamServiceEnable([]byte("@include common-session\nsession required pam_env.so user_readenv=1")); n != 4 ||
		string(out) != "@include common-session\nsession required pam_env.so user_readenv=1\n"+pamMarker+"\n"+pamLine {
		t.Errorf("no final newline: line %d\n%q", n, out)
	}

	// A marker whose pam_vigil line an admin replaced: the marker goes,
	// the admin's line stays (and is reported as not ours).
	edited := strings.Replace(string(out), pamLine, "session optional pam_motd.so", 1)
	back, removed, warns = pamServiceDisable([]byte(edited), "sshd")
	if removed != 1 || len(warns) != 1 || !strings.Contains(warns[0], "sshd:") || strings.Contains(string(back), pamMarker) ||
		!strings.Contains(string(back), "pam_motd.so") {
		t.Errorf("edited block: removed %d %v\n%s", removed, warns, back)
	}
}
