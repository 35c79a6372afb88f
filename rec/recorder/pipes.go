package recorder

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
)

// runPipes runs cmd without a terminal. stdin, stdout and stderr are relayed
// separately and byte for byte (tlog merges stderr into stdout; this does
// not), so scp, sftp, rsync and git keep working exactly as without us.
func runPipes(cmd *exec.Cmd, o *Options) (Result, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return Result{Status: 1}, fmt.Errorf("stdin pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return Result{Status: 1}, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return Result{Status: 1}, fmt.Errorf("stderr pipe: %w", err)
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
	startErr := cmd.Start()
	inR.Close()
	outW.Close()
	errW.Close()
	if startErr != nil {
		inW.Close()
		return Result{Status: 127}, fmt.Errorf("start %s: %w", cmd.Path, startErr)
	}
	if err := startHook(o, rec, cmd, "pipe"); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return Result{Status: 1}, err
	}

	stopRelays, err := newStopper()
	if err != nil {
		hangup(cmd)
		return Result{Status: 1}, fmt.Errorf("relay: %w", err)
	}
	defer stopRelays.close()
	keys, _ := newFDReader(int(o.Stdin.Fd()), stopRelays, false)
	go func() {
		_ = relay(keys, fdWriter{int(inW.Fd())}, rec.input)
		inW.Close()
	}()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []struct {
		src    *os.File
		dst    *os.File
		stream int
	}{{outR, o.Stdout, streamOut}, {errR, o.Stderr, streamErr}} {
		r, err := newFDReader(int(p.src.Fd()), stopRelays, true)
		if err != nil {
			hangup(cmd)
			return Result{Status: 1}, fmt.Errorf("relay: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = relay(r, fdWriter{int(p.dst.Fd())}, func(b []byte) error { return rec.output(p.stream, b) })
			// Closing our end makes a writer whose reader is gone get EPIPE.
			p.src.Close()
		}()
	}
	relayed := make(chan struct{})
	go func() { wg.Wait(); close(relayed) }()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	select {
	case <-relayed:
	case <-rec.dead:
		hangup(cmd)
		stopRelays.stop()
	case <-stop:
		hangup(cmd)
	}
	<-waitOrKill(cmd, exited)
	<-relayed
	stopRelays.stop()
	var relayErr error
	for _, e := range errs {
		if e != nil {
			relayErr = e
		}
	}
	return finishRun(o, rec, cmd, relayErr)
}
