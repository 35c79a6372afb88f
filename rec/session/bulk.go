package session

import (
	"path/filepath"
	"slices"
	"strings"
)

// IsBulkTransfer tells whether a `-c` command string is the server side of
// a file transfer (scp, sftp, rsync, git over ssh). Their payload is data,
// not a terminal session, and policy records it as sizes and digests unless
// told to keep every byte.
func IsBulkTransfer(command string) bool {
	f := strings.Fields(command)
	if len(f) == 0 {
		return false
	}
	args := f[1:]
	switch filepath.Base(f[0]) {
	case "sftp-server":
		return true
	case "scp":
		return slices.Contains(args, "-t") || slices.Contains(args, "-f")
	case "rsync":
		return slices.Contains(args, "--server")
	case "git-upload-pack", "git-receive-pack", "git-upload-archive":
		return true
	case "git":
		return len(args) > 0 && (args[0] == "upload-pack" || args[0] == "receive-pack" || args[0] == "upload-archive")
	}
	return false
}
