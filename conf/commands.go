package conf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
)

// DefaultCommandsPath is vigil-cmdlog's configuration file
// (rec/spec/commands.md §5).
const DefaultCommandsPath = "/etc/vigil/commands.toml"

// Commands configures vigil-cmdlog.
type Commands struct {
	// Dir is the recordings directory, whose commands/ holds the command
	// logs; "" means rec.toml's file.path (its directory when it names a
	// file).
	Dir string `toml:"dir"`
	// Redact are regular expressions matched against each argument: their
	// capture groups' text, or the whole argument when they have none, is
	// replaced by [REDACTED].
	Redact []string `toml:"redact"`
	// RedactAfter are arguments whose next argument is redacted.
	RedactAfter []string `toml:"redact_after"`
}

// DefaultRedact are the redaction patterns when the file sets none: the
// values of password-like options and variables, and a URL's password.
// (MySQL's -pPASSWORD is not among them: -p is a port or a flag to most
// programs; add `^-p(.+)$` where mysql is used.)
var DefaultRedact = []string{
	`(?i)^--?[a-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key)[a-z0-9_.-]*=(.+)$`,
	`(?i)^[a-z0-9_]*(?:password|passwd|secret|token|api_?key)[a-z0-9_]*=(.+)$`,
	`(?i)^[a-z][a-z0-9+.-]*://[^/@:]*:([^/@]+)@`,
}

// DefaultRedactAfter are the options whose next argument is redacted when
// the file sets none.
var DefaultRedactAfter = []string{"--password", "--passwd", "--token", "--secret", "--api-key"}

// LoadCommands reads vigil-cmdlog's configuration from path; a missing
// default file gives the defaults. Errors name the file, line and key.
func LoadCommands(path string) (Commands, error) {
	c := Commands{Redact: DefaultRedact, RedactAfter: DefaultRedactAfter}
	data, err := os.ReadFile(path)
	if path == DefaultCommandsPath && errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	tree, _, lines, err := decodeTOML(path, data)
	if err != nil {
		return c, err
	}
	for key, v := range tree {
		at := &Error{File: path, Line: lines.find([]string{key}), Key: key}
		var ok bool
		switch key {
		case "dir":
			c.Dir, ok = v.(string)
			at.Msg = "must be a string"
		case "redact", "redact_after":
			var list []string
			list, ok = stringList(v)
			at.Msg = "must be a list of strings"
			if key == "redact" {
				c.Redact = list
			} else {
				c.RedactAfter = list
			}
		default:
			at.Msg = "unknown key (known: dir, redact, redact_after)"
		}
		if !ok {
			return c, at
		}
	}
	for i, re := range c.Redact {
		if _, err := regexp.Compile(re); err != nil {
			return c, &Error{File: path, Line: lines.find([]string{"redact"}), Key: fmt.Sprintf("redact[%d]", i), Msg: err.Error()}
		}
	}
	return c, nil
}

// stringList is v as a list of strings, if it is one.
func stringList(v any) ([]string, bool) {
	items, ok := v.([]any)
	if !ok {
		return nil, false
	}
	list := make([]string, len(items))
	for i, it := range items {
		if list[i], ok = it.(string); !ok {
			return nil, false
		}
	}
	return list, true
}
