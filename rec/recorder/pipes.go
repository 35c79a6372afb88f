package recorder

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runPipes runs cmd without a terminal. stdin, stdout and stderr are relayed
// separately and byte for byte (tlog merges stderr into stdout; this does
// not), so scp, sftp, rsync and git keep working exactly as without us.
func runPipes(cmd *exec.Cmd, o *Options) (Result, error) {
	inW, inR, err := pipe(true)
	if err != nil {
		return Result{Status: 1}, fmt.Errorf("stdin %w", err)
	}
	outR, outW, err := pipe(false)
	if err != nil {
		unix.Close(inW)
		inR.Close()
		return Result{Status: 1}, fmt.Errorf("stdout %w", err)
	}
	errR, errW, err := pipe(false)
	if err != nil {
		unix.Close(inW)
		unix.Close(outR)
		inR.Close()
		outW.Close()
		return Result{Status: 1}, fmt.Errorf("stderr %w", err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW

	rec := newRecording(o, o.Stderr)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(stop)
	// A reader that went away is the command's business (it gets EPIPE on
	// its own pipe once we stop reading), not a reason to die of SIGPIPE.
	signal.Ignore(syscall.SIGPIPE)

	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	reap := newReaper()
	startErr := cmd.Start()
	inR.Close()
	outW.Close()
	errW.Close()
	if startErr != nil {
		reap.stop()
		unix.Close(inW)
		unix.Close(outR)
		unix.Close(errR)
		return Result{Status: 127}, fmt.Errorf("start %s: %w", cmd.Path, startErr)
	}
	reap.watch(cmd.Process.Pid)
	end := newEnder(cmd, reap, o, -1)
	if err := startHook(o, rec, cmd, "pipe"); err != nil {
		end.send(syscall.SIGKILL)
		end.finish()
		return Result{Status: 1}, err
	}

	stopRelays, err := newStopper()
	if err != nil {
		end.send(syscall.SIGKILL)
		end.finish()
		return Result{Status: 1}, fmt.Errorf("relay: %w", err)
	}
	defer stopRelays.close()
	keys, _ := newFDReader(int(o.Stdin.Fd()), stopRelays, false)
	go func() {
		_ = relay(keys, fdWriter{inW}, rec.input)
		unix.Close(inW)
	}()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []struct {
		src    int
		dst    *os.File
		stream int
	}{{outR, o.Stdout, streamOut}, {errR, o.Stderr, streamErr}} {
		r, err := newFDReader(p.src, stopRelays, true)
		if err != nil {
			stopRelays.stop()
			end.send(syscall.SIGKILL)
			end.finish()
			return Result{Status: 1}, fmt.Errorf("relay: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = relay(r, fdWriter{int(p.dst.Fd())}, func(b []byte) error { return rec.output(p.stream, b) })
			// Closing our end makes a writer whose reader is gone get EPIPE.
			unix.Close(p.src)
		}()
	}
	relayed := make(chan struct{})
	go func() { wg.Wait(); close(relayed) }()

	select {
	case <-relayed:
	case <-reap.done:
		// What the command left behind may hold its output open: it is
		// ended below, and the relays then see the end of the output.
	case <-rec.dead:
		end.hangup()
		stopRelays.stop()
	case <-stop:
		end.hangup()
	}
	end.waitCommand()
	end.sweep()
	select {
	case <-relayed:
	case <-time.After(commandHangup):
		// A process from outside the session holds the output open.
		stopRelays.stop()
		<-relayed
	}
	stopRelays.stop()
	var relayErr error
	for _, e := range errs {
		if e != nil {
			relayErr = e
		}
	}
	return finishRun(o, rec, end, relayErr)
}

// relay copies src to dst, handing every chunk to rec first. It stops at
// the end of src, on a write error, or when recording fails (then nothing
// more is passed on).
func relay(src io.Reader, dst io.Writer, rec func([]byte) error) error {
	buf := make([]byte, bufSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if rerr := rec(buf[:n]); rerr != nil {
				return rerr
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return nil
			}
		}
		if err != nil {
			// End of input, a closed pipe, or errStopped.
			return nil
		}
	}
}

// pipe makes a pipe of raw descriptors and returns the end for the child as
// a blocking os.File (not registered with the netpoller, see ptyfd.Open).
// childReads tells which end the child gets.
func pipe(childReads bool) (ours int, theirs *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return -1, nil, fmt.Errorf("pipe: %w", err)
	}
	if childReads {
		return p[1], os.NewFile(uintptr(p[0]), "|0"), nil
	}
	return p[0], os.NewFile(uintptr(p[1]), "|1"), nil
}
