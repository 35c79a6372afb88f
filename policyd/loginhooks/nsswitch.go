package loginhooks

import (
	"fmt"
	"strings"
)

const (
	nssSource = "vigil"
	// nssAction stops the lookup when policyd is up but has not answered
	// in time (libnss_vigil's TRYAGAIN): the next source would hand out the
	// real shell of a user the policy may record. A dead policyd is
	// UNAVAIL, which continues as usual.
	nssAction = "[TRYAGAIN=return]"
)

// nssWord is a source of a `passwd:` line of nsswitch.conf with its byte
// range in the line, actions ([NOTFOUND=return]) included in the range of
// the source they follow.
type nssWord struct {
	name       string
	start, end int
}

// passwdSources returns the source list of a `passwd:` line and where the
// list starts; ok is false for other lines.
func passwdSources(line string) (list []nssWord, listStart int, ok bool) {
	content := line
	if i := strings.IndexByte(content, '#'); i >= 0 {
		content = content[:i]
	}
	rest := strings.TrimLeft(content, " \t")
	if !strings.HasPrefix(rest, "passwd") {
		return nil, 0, false
	}
	rest = strings.TrimLeft(rest[len("passwd"):], " \t")
	if !strings.HasPrefix(rest, ":") {
		return nil, 0, false
	}
	i := len(content) - len(rest) + 1
	for i < len(content) && (content[i] == ' ' || content[i] == '\t') {
		i++
	}
	listStart = i
	for i < len(content) {
		switch c := content[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == '[':
			if j := strings.IndexByte(content[i:], ']'); j >= 0 {
				i += j + 1
			} else {
				i = len(content)
			}
			if len(list) > 0 {
				list[len(list)-1].end = i
			}
		default:
			j := i
			for j < len(content) && !strings.ContainsRune(" \t[", rune(content[j])) {
				j++
			}
			list = append(list, nssWord{content[i:j], i, j})
			i = j
		}
	}
	return list, listStart, true
}

// nssEnable puts vigil first on every passwd line of nsswitch.conf (name is
// for messages), changing nothing else; a line that already has vigil is
// left alone.
func nssEnable(data []byte, name string) (out []byte, warns []string, err error) {
	lines := strings.Split(string(data), "\n")
	found := false
	for n, l := range lines {
		list, at, ok := passwdSources(l)
		if !ok {
			continue
		}
		found = true
		if len(list) == 0 {
			return nil, nil, fmt.Errorf("%s:%d: passwd: lists no sources", name, n+1)
		}
		if i := indexSource(list); i > 0 {
			warns = append(warns, fmt.Sprintf("%s:%d: %s comes after %s, whose entries win: move it first", name, n+1, nssSource, list[i-1].name))
		} else if i < 0 {
			lines[n] = l[:at] + nssSource + " " + nssAction + " " + l[at:]
		}
	}
	if !found {
		return nil, nil, fmt.Errorf("%s: no passwd: line (add `passwd: %s files`)", name, nssSource)
	}
	return []byte(strings.Join(lines, "\n")), warns, nil
}

// nssDisable removes vigil (and its actions) from every passwd line.
func nssDisable(data []byte, name string) (out []byte, removed bool, warns []string) {
	lines := strings.Split(string(data), "\n")
	for n := range lines {
		for {
			list, _, ok := passwdSources(lines[n])
			i := indexSource(list)
			if !ok || i < 0 {
				break
			}
			l := lines[n]
			switch {
			case i+1 < len(list): // up to the next source
				l = l[:list[i].start] + l[list[i+1].start:]
			case i > 0: // the last one: from the end of the one before
				l = l[:list[i-1].end] + l[list[i].end:]
			default: // the only one: glibc's default
				l = l[:list[i].start] + "files" + l[list[i].end:]
				warns = append(warns, fmt.Sprintf("%s:%d: %s was the only passwd source; now files", name, n+1, nssSource))
			}
			lines[n] = l
			removed = true
		}
	}
	return []byte(strings.Join(lines, "\n")), removed, warns
}

func indexSource(list []nssWord) int {
	for i, w := range list {
		if w.name == nssSource {
			return i
		}
	}
	return -1
}
