// Command policydbench measures a running vigil-policyd: decisions per
// second through the NSS socket, D-Bus Decide latency, and reloads under
// load (how long, and whether any request failed meanwhile).
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-rec/vigil/policyd/dbusapi"
	"github.com/vigil-rec/vigil/policyd/nssdb"
)

func main() {
	mode := flag.String("mode", "socket", "socket | dbus | reload")
	users := flag.Int("users", 10000, "users are u00000 .. u(N-1)")
	n := flag.Int("n", 200000, "requests (socket), calls (dbus) or reloads (reload)")
	sock := flag.String("socket", nssdb.SocketPath, "NSS socket")
	conns := flag.Int("conns", 1, "socket: concurrent connections, one request in flight on each")
	perCall := flag.Bool("connect-per-call", false, "dbus: a new bus connection for every call, as pam_vigil makes")
	flag.Parse()
	var err error
	switch *mode {
	case "socket":
		err = socketRate(*sock, *users, *n, *conns)
	case "dbus":
		err = busLatency(*users, *n, *perCall)
	case "reload":
		err = reloadUnderLoad(*sock, *users, *n)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "policydbench:", err)
		os.Exit(1)
	}
}

func name(users int) string { return fmt.Sprintf("u%05d", rand.IntN(users)) }

// socketRate asks by name over conns connections, one request at a time
// on each, n requests in all.
func socketRate(sock string, users, n, conns int) error {
	var recorded, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			c, err := nssdb.Dial(sock, time.Second)
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
				return
			}
			defer c.Close()
			for range n / conns {
				_, rec, err := c.ByName(name(users))
				switch {
				case err != nil:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				case rec:
					recorded.Add(1)
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if e := firstErr.Load(); e != nil {
		return fmt.Errorf("%d requests failed, first: %w", failed.Load(), *e)
	}
	total := n / conns * conns
	fmt.Printf("socket decisions (%d connections): %d in %.3fs = %.0f/s (%d recorded)\n", conns, total, el.Seconds(), float64(total)/el.Seconds(), recorded.Load())
	return nil
}

func busLatency(users, n int, perCall bool) error {
	c, err := dbusapi.Connect()
	if err != nil {
		return err
	}
	defer c.Close()
	lat := make([]time.Duration, 0, n)
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t := time.Now()
		cc := c
		if perCall {
			if cc, err = dbusapi.ConnectContext(ctx); err != nil {
				cancel()
				return err
			}
		}
		_, err := cc.Decide(ctx, name(users), "sshd", "", "")
		if perCall {
			cc.Close()
		}
		cancel()
		if err != nil {
			return err
		}
		lat = append(lat, time.Since(t))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	what := "one connection"
	if perCall {
		what = "a connection per call"
	}
	fmt.Printf("D-Bus Decide (%s): %d calls, p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", what, n, q(0.5), q(0.99), q(1))
	return nil
}

// reloadUnderLoad reloads n times while two clients keep asking the socket
// and D-Bus; it reports reload times and failed requests.
func reloadUnderLoad(sock string, users, n int) error {
	c, err := dbusapi.Connect()
	if err != nil {
		return err
	}
	defer c.Close()
	var done atomic.Bool
	var asked, failed atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		sc, err := nssdb.Dial(sock, time.Second)
		if err != nil {
			failed.Add(1)
			return
		}
		defer sc.Close()
		for !done.Load() {
			asked.Add(1)
			if _, _, err := sc.ByName(name(users)); err != nil {
				failed.Add(1)
			}
		}
	})
	wg.Go(func() {
		for !done.Load() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			asked.Add(1)
			if _, err := c.Decide(ctx, name(users), "sshd", "", ""); err != nil {
				failed.Add(1)
			}
			cancel()
		}
	})
	var times []time.Duration
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t := time.Now()
		err := c.Reload(ctx)
		cancel()
		if err != nil {
			done.Store(true)
			wg.Wait()
			return err
		}
		times = append(times, time.Since(t))
	}
	done.Store(true)
	wg.Wait()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	fmt.Printf("reload: %d reloads, median %d ms, max %d ms; %d requests meanwhile, %d failed\n",
		n, times[len(times)/2].Milliseconds(), times[len(times)-1].Milliseconds(), asked.Load(), failed.Load())
	return nil
}
