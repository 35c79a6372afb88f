package main

import (
	"strings"
	"testing"
)

func TestSSHDAccept(t *testing.T) {
	if _, err := runCtl(t, "enable", "--dry-run", "--accept-ssh-bypass=sftp"); err == nil || !strings.Contains(err.Error(), `unknown way "sftp"`) {
		t.Errorf("enable --accept-ssh-bypass=sftp: %v", err)
	}
}
