// Package cmdtimeline shows the command log of a recording (rec/commands,
// rec/spec/commands.md) as vigil-play does: found beside the recording,
// verified, each command at its offset in the recording; printed for
// people (every text from the log made safe for a terminal) or as JSON
// lines, and searched as search finds text on screen.
package cmdtimeline

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/conf/safetext"
	"github.com/vigil-rec/vigil/play/search"
	"github.com/vigil-rec/vigil/rec/commands"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/store"
)

// ErrNoLog is the error of a recording that has no command log.
var ErrNoLog = errors.New("no command log")

// ErrNotRemote refuses what reads a collector's command logs other than
// `vigil-play commands --server`.
var ErrNotRemote = errors.New("over --server, only vigil-play commands reads command logs")

// Recording is a recording whose command log is sought.
type Recording struct {
	Name string // as play takes it: FILE, "FILE -m REC", "-r journal REC", or REC
	File string // the recording's file; "" when not known (the journal, a purged recording)
	Rec  string
	Dir  string // the recordings directory: the log is Dir/commands/Rec.jsonl
	// Start is the recording's own start (its first message), from which
	// the player counts; zero when not known, and the log's start entry
	// is used instead.
	Start time.Time
}

// InFile returns the recordings of the file at path: recording rec, or
// when rec is "" every one the file holds (tlog's shared file holds
// several), named as search names them.
func InFile(path, rec string) ([]Recording, error) {
	head, err := store.ReadHead(path)
	if err != nil {
		return nil, err
	}
	ids := []string{rec}
	if rec == "" {
		if ids, err = search.FileRecordings(path); err != nil {
			return nil, err
		}
	}
	rs := make([]Recording, 0, len(ids))
	for _, id := range ids {
		r := Recording{Name: path, File: path, Rec: id, Dir: filepath.Dir(path)}
		if len(ids) > 1 || id != head.Rec {
			r.Name = path + " -m " + id
		}
		if id == head.Rec {
			r.Start = head.Start
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// Resolve returns the recordings arg names: a recording file (InFile), or
// a recording id in dir, with its file when dir has one (a journal
// recording, or one purged, keeps its command log there alone).
func Resolve(arg, dir, rec string) ([]Recording, error) {
	if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
		return InFile(arg, rec)
	}
	file, err := store.FindID(dir, arg)
	switch {
	case err != nil:
		return nil, err
	case rec != "":
		return nil, fmt.Errorf("%s is a recording id: -m selects a recording of a FILE", arg)
	}
	r := Recording{Name: arg, Rec: arg, Dir: dir}
	if file != "" {
		r.Name, r.File = file, file
		if head, err := store.ReadHead(file); err == nil {
			r.Start = head.Start
		}
	}
	return []Recording{r}, nil
}

// Journal is recording rec of the systemd journal; its command log is in
// the default recordings directory (rec/spec/commands.md §1).
func Journal(rec string) Recording {
	return Recording{Name: "-r journal " + rec, Rec: rec, Dir: store.DefaultDir}
}

// Timeline is a recording's command log, read and verified.
type Timeline struct {
	Recording
	Report  commands.Report
	Entries []commands.Entry // every entry that parsed, in file order, whatever the report says
	Origin  time.Time        // offsets count from here: the recording's start, else the log's
	names   map[uint32]string
}

// Read reads the command log of r and verifies it against trusted. A
// recording without one gives an error wrapping ErrNoLog.
func Read(r Recording, trusted keys.Set) (*Timeline, error) {
	entries, rep, err := commands.ReadFile(r.Dir, r.Rec, trusted)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w for recording %s: vigil-cmdlog was not running, or the session was not a login", ErrNoLog, r.Rec)
	}
	if err != nil {
		return nil, fmt.Errorf("the command log of %s: %w", r.Rec, err)
	}
	return newTimeline(r, entries, rep), nil
}

// FromData is the Timeline of r's command log data (as a collector serves
// it), verified against trusted.
func FromData(r Recording, data []byte, trusted keys.Set) *Timeline {
	entries, rep := commands.Verify(data, r.Rec, trusted)
	return newTimeline(r, entries, rep)
}

func newTimeline(r Recording, entries []commands.Entry, rep commands.Report) *Timeline {
	tl := &Timeline{Recording: r, Report: rep, Entries: entries, Origin: r.Start}
	if tl.Origin.IsZero() {
		tl.Origin = rep.Start
	}
	return tl
}

// User is the recorded user, as the log's start entry names it.
func (tl *Timeline) User() string {
	if len(tl.Entries) > 0 && tl.Entries[0].Kind == commands.KindStart {
		return tl.Entries[0].User
	}
	return ""
}

// Item is a line of the timeline: a command, or where commands may be
// missing.
type Item struct {
	N      int           // a command's number, from 1 (play --goto-command N); 0 for a loss
	Offset time.Duration // from the recording's start; what came before it counts as 0
	*commands.Entry
}

// Items returns the commands and losses of the log, in file order.
func (tl *Timeline) Items() []Item {
	var items []Item
	n := 0
	for i := range tl.Entries {
		e := &tl.Entries[i]
		switch {
		case e.Kind == commands.KindExec && e.Cmd != nil:
			n++
			items = append(items, Item{N: n, Offset: max(0, e.Offset(tl.Origin)), Entry: e})
		case e.Kind == commands.KindLost:
			items = append(items, Item{Offset: max(0, e.Offset(tl.Origin)), Entry: e})
		}
	}
	return items
}

// Command returns command n (from 1).
func (tl *Timeline) Command(n int) (Item, error) {
	count := 0
	for _, it := range tl.Items() {
		if it.N == n {
			return it, nil
		}
		count = max(count, it.N)
	}
	return Item{}, fmt.Errorf("the command log of %s has %d commands, no command %d", tl.Rec, count, n)
}

// UserName names uid as this host's user database does (the number when
// it does not), each uid looked up once.
func (tl *Timeline) UserName(uid uint32) string {
	if name, ok := tl.names[uid]; ok {
		return name
	}
	name := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	if tl.names == nil {
		tl.names = map[uint32]string{}
	}
	tl.names[uid] = name
	return name
}

// Failure names why a command's call failed: the errno's name (ENOENT),
// else its return value.
func Failure(c *commands.Command) string {
	if c.Exit < 0 && c.Exit > -4096 {
		if name := unix.ErrnoName(syscall.Errno(-c.Exit)); name != "" {
			return name
		}
	}
	return "failed: " + strconv.FormatInt(c.Exit, 10)
}

// Print writes tl for people: the log's verdict (commands.Report.String),
// then a line per command, "N  +HH:MM:SS.mmm  USER  CWD  ARGV", marked
// [ENOENT] when the call failed and [incomplete] when records of it were
// lost, and per loss where commands may be missing. Everything from the
// log is quoted and made printable: a recorded user's argv cannot act on
// the auditor's terminal.
func Print(w io.Writer, tl *Timeline) error {
	var b strings.Builder
	b.WriteString(safetext.Printable(tl.Report.String()) + "\n")
	for _, it := range tl.Items() {
		off := search.FormatOffset(it.Offset)
		if it.N == 0 {
			fmt.Fprintf(&b, "      +%s  -- commands may be missing here: %s\n", off, safetext.Printable(it.Lost))
			continue
		}
		c := it.Cmd
		who := tl.UserName(c.UID)
		if c.EUID != c.UID {
			who += "(euid " + tl.UserName(c.EUID) + ")"
		}
		fmt.Fprintf(&b, "%4d  +%s  %s  %s  %s", it.N, off, safetext.Printable(who), quoteArg(c.Cwd), Quote(c.Argv))
		if !c.OK {
			b.WriteString("  [" + Failure(c) + "]")
		}
		if c.Incomplete {
			b.WriteString("  [incomplete")
			if len(c.Problems) > 0 {
				b.WriteString(": " + safetext.Printable(strings.Join(c.Problems, "; ")))
			}
			b.WriteString("]")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonReport is the first line of commands --json for a recording.
type jsonReport struct {
	Kind      string `json:"kind"`      // "report"
	Recording string `json:"recording"` // as play takes it
	File      string `json:"file"`      // "" when not known
	commands.Report
}

// jsonItem is a line of commands --json for a command or a loss: where it
// is in the recording, and the command as the log has it.
type jsonItem struct {
	Kind    string    `json:"kind"` // "exec" or "lost"
	Rec     string    `json:"rec"`
	N       int       `json:"n,omitempty"`
	Offset  string    `json:"offset"` // HH:MM:SS.mmm, which play --goto takes
	Seconds float64   `json:"seconds"`
	Time    time.Time `json:"time"`
	User    string    `json:"user,omitempty"`  // the uid's name on this host
	EUser   string    `json:"euser,omitempty"` // the euid's, when it is another
	Line    string    `json:"line,omitempty"`  // argv quoted and printable, as Print shows it
	Error   string    `json:"error,omitempty"` // a failed call's errno name (Failure)
	Lost    string    `json:"lost,omitempty"`
	*commands.Command
}

// PrintJSON writes tl as JSON lines: the report ({"kind":"report", the
// commands.Report's members, "recording", "file"}), then one object per
// command and loss (jsonItem), each a line that is safe on a terminal.
func PrintJSON(w io.Writer, tl *Timeline) error {
	b, err := safetext.AppendJSON(nil, jsonReport{Kind: "report", Recording: tl.Name, File: tl.File, Report: tl.Report})
	for _, it := range tl.Items() {
		if err != nil {
			break
		}
		j := jsonItem{Kind: it.Kind, Rec: tl.Rec, N: it.N, Offset: search.FormatOffset(it.Offset), Seconds: it.Offset.Seconds(),
			Time: it.Time, Lost: it.Lost, Command: it.Cmd}
		if c := it.Cmd; c != nil {
			j.User, j.Line = tl.UserName(c.UID), Quote(c.Argv)
			if c.EUID != c.UID {
				j.EUser = tl.UserName(c.EUID)
			}
			if !c.OK {
				j.Error = Failure(c)
			}
		}
		b, err = safetext.AppendJSON(b, j)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Search returns the commands of the recordings rs whose argv, joined
// with spaces, o.Match matches, as search hits (Source "command", Line the
// argv quoted, which a shell reads back exactly), each recording's in time
// order.
// Recordings without a command log, or not of o.User or o.Rec, have none.
// read is told of every log searched: one that does not verify is
// searched all the same, as search does recordings, and read warns of it.
func Search(rs []Recording, o search.Options, trusted keys.Set, read func(*Timeline)) ([]search.Hit, error) {
	var hits []search.Hit
	var errs []error
	for _, r := range rs {
		if o.Rec != "" && r.Rec != o.Rec {
			continue
		}
		tl, err := Read(r, trusted)
		if errors.Is(err, ErrNoLog) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if o.User != "" && tl.User() != o.User {
			continue
		}
		read(tl)
		for _, it := range tl.Items() {
			if it.N == 0 || !o.Match(strings.Join(it.Cmd.Argv, " ")) {
				continue
			}
			hits = append(hits, search.NewHit(r.Name, r.File, r.Rec, it.Offset.Seconds(), "command", Quote(it.Cmd.Argv)))
		}
	}
	return hits, errors.Join(errs...)
}

// Quote writes argv as a shell reads it back, and printable: plain words
// as they are, others in single quotes, and those holding what a terminal
// would act on in bash's $'...' with safetext's escapes (\x1b, \u202e,
// \xff), which bash decodes to the same bytes.
func Quote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = quoteArg(a)
	}
	return strings.Join(q, " ")
}

// plain are the characters no shell gives a meaning to in a word.
const plain = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@%_+=:,./-"

var ansiC = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

func quoteArg(s string) string {
	switch {
	case s == "":
		return "''"
	case strings.Trim(s, plain) == "":
		return s
	case safetext.Printable(s) == s:
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return "$'" + safetext.Printable(ansiC.Replace(s)) + "'"
}
