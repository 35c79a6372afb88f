package sink

import (
	"fmt"
	"slices"
)

// priorities are the syslog severity names tlog accepts, indexed by value.
var priorities = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// facilities are the syslog facility names tlog accepts.
var facilities = []string{
	"auth", "authpriv", "cron", "daemon", "ftp", "kern",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
	"lpr", "mail", "news", "syslog", "user", "uucp",
}

// ParsePriority returns the numeric syslog severity (0 emerg .. 7 debug) of
// one of tlog's priority names.
func ParsePriority(name string) (int, error) {
	if i := slices.Index(priorities, name); i >= 0 {
		return i, nil
	}
	return 0, fmt.Errorf("unknown priority %q (want one of %v)", name, priorities)
}

func checkFacility(name string) error {
	if slices.Contains(facilities, name) {
		return nil
	}
	return fmt.Errorf("unknown syslog facility %q (want one of %v)", name, facilities)
}
