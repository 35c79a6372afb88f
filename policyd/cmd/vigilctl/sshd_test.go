package main

import (
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/policyd/sshdcheck"
)

func TestSSHDAccept(t *testing.T) {
	s := sshdOpts{accept: []string{"x11-forwarding", "authorized-keys"}}
	if err := s.validate(); err != nil {
		t.Fatal(err)
	}
	if !s.accepted(sshdcheck.X11) || s.accepted(sshdcheck.TCPForwarding) || s.accepted("all") {
		t.Errorf("accepted: %v", s.acceptedKinds())
	}
	s.accept = []string{"all"}
	if len(s.acceptedKinds()) != len(sshdcheck.Kinds) || !s.accepted("all") {
		t.Errorf("all: %v", s.acceptedKinds())
	}
	s.accept = []string{"x11"}
	if err := s.validate(); err == nil || !strings.Contains(err.Error(), `"x11"`) {
		t.Errorf("unknown way: %v", err)
	}
	if _, err := runCtl(t, "enable", "--dry-run", "--accept-ssh-bypass=sftp"); err == nil || !strings.Contains(err.Error(), `unknown way "sftp"`) {
		t.Errorf("enable --accept-ssh-bypass=sftp: %v", err)
	}
}

func TestSSHDNames(t *testing.T) {
	if got := names([]string{"a", "b"}); got != "a, b" {
		t.Error(got)
	}
	if got := names([]string{"a", "b", "c", "d", "e", "f", "g"}); got != "a, b, c, d, e and 2 more" {
		t.Error(got)
	}
}
