package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/vigil-rec/vigil/conf/safetext"
	"github.com/vigil-rec/vigil/play/cmdtimeline"
	"github.com/vigil-rec/vigil/play/index"
	"github.com/vigil-rec/vigil/play/player"
	"github.com/vigil-rec/vigil/play/reader"
	"github.com/vigil-rec/vigil/play/remote"
	"github.com/vigil-rec/vigil/play/search"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/verify"
)

// exitSequence resets the attributes, shows the cursor and turns mouse and
// focus reporting and bracketed paste off, whatever the recording left the
// terminal in: the viewer's shell comes next.
const exitSequence = "\x1b[0m\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1004l\x1b[?1006l\x1b[?2004l"

// addPlayCmd registers play and makes it the default: when the first
// argument is neither a subcommand nor one of the root's own flags
// (`vigil-play FILE`, `vigil-play -s 2 FILE`), play runs with all the
// arguments.
func addPlayCmd(root *cobra.Command, args []string) {
	root.AddCommand(playCmd())
	// These are otherwise only added by Execute, after the decision.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpFlag()
	root.InitDefaultVersionFlag()
	if len(args) == 0 {
		return
	}
	first := args[0]
	for _, c := range root.Commands() {
		if c.Name() == first || c.HasAlias(first) {
			return
		}
	}
	if name, ok := strings.CutPrefix(first, "--"); ok {
		name, _, _ = strings.Cut(name, "=")
		if root.Flags().Lookup(name) != nil {
			return
		}
	} else if len(first) == 2 && first[0] == '-' && root.Flags().ShorthandLookup(first[1:]) != nil {
		return
	}
	root.SetArgs(append([]string{"play"}, args...))
}

type playFlags struct {
	speed       float64
	goTo        string
	gotoCommand int
	keyPaths    []string
	paused      bool
	follow      bool
	persist     bool
	lax         bool
	rec         string
	idleLimit   float64
	source      string
	unfiltered  bool
	server      serverFlags
}

func playCmd() *cobra.Command {
	var f playFlags
	cmd := &cobra.Command{
		Use:   "play [options] FILE|-|REC-ID",
		Short: "Play a recording on the terminal with its recorded timing (the default command)",
		Long: `Play a recording's output on the terminal with the recorded timing. FILE may be - for
standard input; with --reader journal the argument is a recording id, read from the
systemd journal (TLOG_REC field). "vigil-play FILE" is short for "vigil-play play FILE".

Keys, when standard input is a terminal (and not the recording):
  space, p      pause / resume
  .             write the next output now (steps while paused, skips a long pause)
  }  {          double / halve the speed (1/16x to 16x)
  backspace     speed 1x
  ←  →          go back / forward 5 seconds
  G             go to the end (with --follow: catch up with the live session)
  TIME G        go to TIME: digits and colons, e.g. 90G, 2:30G, 1::G
  q             quit (ignored with --persist)
Without a terminal on standard input there are no keys and the recording just
plays.

The recorded output is written as it was recorded, except what the recorded
user could use against the viewer's terminal: sequences that make the terminal
answer (device attributes, status and cursor position reports, DECRQSS, DECRQM,
XTVERSION, window and title reports: the answer would arrive as if typed here),
the clipboard (OSC 52) and every control string but the title (OSC 0-2), and
what would make the terminal show other than what export and search see (VT52
mode, rectangle operations, margins, keyboard lock). --unfiltered writes
everything.

Seeking in a FILE (--goto and the keys) uses an index of the terminal's state,
built at the first seek (with a progress bar on a terminal; about a minute per
GB) and cached as FILE.vpidx, or in $XDG_CACHE_HOME/vigil-play when FILE's
directory is not writable: the terminal is reset and repainted as it was at
the nearest point before the target, then the output up to the target is
written at once. Standard input, the journal and --follow only go forward, by
writing everything before the target at once.

--goto-command N starts where command N of the recording's command log ran (as
"vigil-play commands" numbers them; the log is verified against the -k keys, and
one that is not OK is said so).

With --server, the argument is a recording HOST/FILE the collector holds (as list
--server names it): it is fetched into your cache directory ($XDG_CACHE_HOME/vigil/remote,
private to you; later plays fetch only what the collector stored since, copies unused
for a day are removed) and played from there, seeking included; with --follow it is
read from the collector as it grows instead.

Exit status: 0 played to the end, quit or interrupted; 1 the input is malformed or
could not be read or written; 2 usage error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPlay(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.Float64VarP(&f.speed, "speed", "s", 1, "playback speed `FACTOR` (> 0; keys change it between 1/16 and 16)")
	fl.StringVarP(&f.goTo, "goto", "g", "start", "start at `POS`: start, end or [[HH:]MM:]SS[.fff]")
	fl.IntVar(&f.gotoCommand, "goto-command", 0, "start where command `N` (from 1) of the recording's command log ran")
	addKeyFlag(cmd, &f.keyPaths)
	fl.BoolVarP(&f.paused, "paused", "p", false, "start paused (needs a terminal on standard input)")
	fl.BoolVarP(&f.follow, "follow", "f", false, "at the end, wait for messages appended to the file (or the journal) until interrupted")
	fl.BoolVar(&f.persist, "persist", false, "ignore q and keyboard signals (Ctrl-C, Ctrl-\\)")
	fl.BoolVar(&f.lax, "lax", false, "accept message id gaps and skip malformed lines, reporting them")
	fl.StringVarP(&f.rec, "rec", "m", "", "play only recording `REC` of a file holding several")
	fl.Float64Var(&f.idleLimit, "idle-limit", 0, "shorten pauses longer than `SECONDS` to that (0: keep them)")
	fl.StringVarP(&f.source, "reader", "r", "file", "read from `READER`: file, or journal (the argument is then a recording id)")
	fl.BoolVar(&f.unfiltered, "unfiltered", false,
		"write the recorded output as it is, with the terminal queries, clipboard access and other sequences play leaves out by default")
	addServerFlags(cmd, &f.server)
	return cmd
}

func runPlay(cmd *cobra.Command, arg string, f playFlags) error {
	usage := func(format string, a ...any) error {
		return &exitError{exitUsageErr, fmt.Errorf(format, a...)}
	}
	if !(f.speed > 0) || math.IsInf(f.speed, 0) {
		return usage("--speed must be a number above 0, not %v", f.speed)
	}
	target, err := player.ParseTarget(f.goTo)
	if err != nil {
		return usage("--goto: %v", err)
	}
	if !(f.idleLimit >= 0) || f.idleLimit > 1e9 {
		return usage("--idle-limit must be a number of seconds, 0 or more, not %v", f.idleLimit)
	}
	if f.source != "file" && f.source != "journal" {
		return usage("--reader must be file or journal, not %q", f.source)
	}

	byCommand := cmd.Flags().Changed("goto-command")
	switch {
	case byCommand && cmd.Flags().Changed("goto"):
		return usage("--goto and --goto-command: give one of them")
	case byCommand && f.server.named():
		return usage("--goto-command: %w", cmdtimeline.ErrNotRemote)
	}

	c, err := f.server.client()
	if err != nil {
		return err
	}
	defer c.Close() // nil when files are read
	if c != nil && f.source != "file" {
		return usage("--server plays a recording the collector holds: no --reader")
	}
	if byCommand {
		if target, err = commandTarget(cmd, arg, f); err != nil {
			return err
		}
	}

	stderr := cmd.ErrOrStderr()
	ro := reader.Options{Rec: f.rec, Lax: f.lax}
	ro.OnSkip = func(e *reader.Error) { warn(stderr, "skipped %v", e) }
	// Signals end the playback through ctx, so that the terminal is
	// restored; they are caught before it is changed, and before a
	// collector's recording is fetched, which they must not leave cut.
	ctx, stop := signal.NotifyContext(cmd.Context(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	defer stop()
	cmd.SetContext(ctx)

	bar := newProgressBar(stderr, "indexing "+safetext.Printable(arg)+" for seeking")
	in, err := openPlayInput(cmd, arg, c, f, index.Options{Reader: ro, Progress: bar.update})
	if err != nil {
		return &exitError{exitFailed, err}
	}
	defer in.close()

	out := cmd.OutOrStdout()
	opt := player.Options{Speed: f.speed, Goto: target, Paused: f.paused, Follow: f.follow, Persist: f.persist,
		IdleLimit: time.Duration(f.idleLimit * float64(time.Second)), Unfiltered: f.unfiltered}
	eol := "\n"
	if of, ok := out.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(of.Fd()), unix.TIOCGWINSZ); err == nil {
			opt.TermCols, opt.TermRows = int(ws.Col), int(ws.Row)
		}
		if restore, err := setTermios(of, rawOutput); err == nil {
			defer restore()
			eol = "\r\n"
		}
	}
	// Keys come from standard input when it is a terminal that is not
	// carrying the recording. Anything else is not read at all: an input
	// at its end would otherwise wake the player forever (tlog-play's bug).
	var keys <-chan []byte
	if in, ok := cmd.InOrStdin().(*os.File); ok && !(arg == "-" && f.source == "file") {
		raw := rawInput
		if f.persist {
			raw = rawInputPersist
		}
		if restore, err := setTermios(in, raw); err == nil {
			defer restore()
			keys = player.ReadKeys(in)
		}
	}
	if keys == nil && f.paused {
		return usage("--paused needs a terminal on standard input to resume")
	}
	opt.Notice = func(s string) { fmt.Fprintf(stderr, "vigil-play: %s%s", safetext.Printable(s), eol) }
	if in.file != nil {
		in.file.Warn = func(err error) { opt.Notice(err.Error()) }
	}
	// On every way out once playing starts, whatever the recording left
	// the attributes and cursor in.
	defer func() { _, _ = io.WriteString(out, exitSequence) }()

	err = player.New(in.src, player.NewClock(keys), out, opt).Run(ctx)
	bar.clear() // an interrupted indexing leaves it
	if n := in.skipped(); n > 0 {
		fmt.Fprintf(stderr, "vigil-play: %s: skipped %d malformed or out-of-order lines%s", safetext.Printable(in.name), n, eol)
	}
	switch {
	case err == nil, errors.Is(err, player.ErrQuit), errors.Is(err, context.Canceled):
		return nil
	default:
		return &exitError{exitFailed, err}
	}
}

// commandTarget is where --goto-command N starts: the time command N of
// the recording's command log ran.
func commandTarget(cmd *cobra.Command, arg string, f playFlags) (player.Target, error) {
	var r cmdtimeline.Recording
	switch {
	case f.gotoCommand < 1:
		return player.Target{}, &exitError{exitUsageErr, fmt.Errorf("--goto-command counts from 1, not %d", f.gotoCommand)}
	case f.source == "journal":
		r = cmdtimeline.Journal(arg)
	case arg == "-":
		return player.Target{}, &exitError{exitUsageErr, errors.New("--goto-command needs a recording FILE or -r journal REC, not standard input")}
	default:
		// The recording play plays: -m's, else the file's first.
		rec := f.rec
		if rec == "" {
			head, err := store.ReadHead(arg)
			if err != nil {
				return player.Target{}, &exitError{exitFailed, err}
			}
			rec = head.Rec
		}
		rs, err := cmdtimeline.InFile(arg, rec)
		if err != nil {
			return player.Target{}, &exitError{exitFailed, err}
		}
		r = rs[0]
	}
	stderr := cmd.ErrOrStderr()
	trusted, err := trustedKeys(f.keyPaths, stderr)
	if err != nil {
		return player.Target{}, &exitError{exitUsageErr, err}
	}
	tl, err := cmdtimeline.Read(r, trusted)
	if err != nil {
		return player.Target{}, &exitError{exitFailed, err}
	}
	if tl.Report.State != verify.OK {
		warn(stderr, "%s", tl.Report.String())
	}
	it, err := tl.Command(f.gotoCommand)
	if err != nil {
		return player.Target{}, &exitError{exitUsageErr, err}
	}
	warn(stderr, "command %d at +%s: %s", it.N, search.FormatOffset(it.Offset), cmdtimeline.Quote(it.Cmd.Argv))
	return player.Target{T: it.Offset}, nil
}

// playInput is what play reads.
type playInput struct {
	src     player.Source
	file    *player.FileSource // src when it is a file that can seek
	name    string
	skipped func() int
	close   func()
}

// openPlayInput opens the recording to play: a file seeks with its index;
// standard input, the journal and a followed file only go forward.
func openPlayInput(cmd *cobra.Command, arg string, c *remote.Client, f playFlags, o index.Options) (*playInput, error) {
	if f.source == "file" && arg != "-" && !f.follow {
		path := arg
		if c != nil {
			var err error
			if path, err = fetchRemote(cmd, c, arg); err != nil {
				return nil, err
			}
		}
		fs, err := player.OpenFile(path, o)
		if err != nil {
			return nil, err
		}
		return &playInput{src: fs, file: fs, name: arg, skipped: fs.Skipped, close: func() { fs.Close() }}, nil
	}
	r, closeSrc, err := openSource(cmd, arg, f.source, c, f.follow, o.Reader)
	if err != nil {
		return nil, err
	}
	return &playInput{src: player.NewReaderSource(r), name: r.Name(), skipped: r.Skipped, close: closeSrc}, nil
}

// openSource opens the recording as a reader, and returns what closes it.
// source is "file" or "journal" (arg is then a recording id), or c the
// collector holding arg (HOST/FILE); follow keeps reading as it grows.
func openSource(cmd *cobra.Command, arg, source string, c *remote.Client, follow bool, ro reader.Options) (*reader.Reader, func(), error) {
	switch {
	case c != nil:
		body, err := openRemote(cmd, c, arg, follow)
		if err != nil {
			return nil, nil, err
		}
		if follow {
			ro.Workers = 0 // read again after io.EOF
		}
		r := reader.New(body, arg, ro)
		return r, func() { r.Close(); body.Close() }, nil
	case source == "journal":
		openJournal := player.OpenJournal
		if follow {
			openJournal = player.FollowJournal
		}
		j, err := openJournal(arg)
		if err != nil {
			return nil, nil, err
		}
		ro.Rec = arg
		r := reader.New(j, j.Name(), ro)
		return r, func() { r.Close(); j.Close() }, nil
	case arg == "-":
		// A pipe needs no Tail: its reads wait for the writer.
		r := reader.New(cmd.InOrStdin(), "<stdin>", ro)
		return r, func() { r.Close() }, nil
	case follow:
		file, err := os.Open(arg)
		if err != nil {
			return nil, nil, err
		}
		return reader.New(player.NewTail(file), arg, ro), func() { file.Close() }, nil
	}
	r, err := reader.Open(arg, ro)
	if err != nil {
		return nil, nil, err
	}
	return r, func() { r.Close() }, nil
}

// rawOutput makes the terminal write the recording unchanged, as
// tlog-play does: no \n to \r\n, since the recording already holds what
// the recorded terminal received.
func rawOutput(t *unix.Termios) { t.Oflag &^= unix.OPOST }

// rawInput puts the terminal in raw mode: keys arrive one by one, without
// echo. Keyboard signals (Ctrl-C) stay on.
func rawInput(t *unix.Termios) {
	rawOutput(t)
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.IEXTEN
	t.Cflag = t.Cflag&^(unix.CSIZE|unix.PARENB) | unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
}

// rawInputPersist is raw mode for --persist: keyboard signals are off too.
func rawInputPersist(t *unix.Termios) {
	rawInput(t)
	t.Lflag &^= unix.ISIG
}

// setTermios changes the settings of terminal f and returns what puts them
// back. It fails when f is not a terminal.
func setTermios(f *os.File, change func(*unix.Termios)) (restore func(), err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	t := *old
	change(&t)
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return nil, fmt.Errorf("set terminal mode: %w", err)
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
