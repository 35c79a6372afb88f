package devmode

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/pgcluster"
	"github.com/vigil-rec/vigil/play/remote"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/svctest"
)

// run starts Run in dir and returns what it printed once it serves, and
// what stops it and returns its error.
func run(t *testing.T, dir string, hosts ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &svctest.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Dir: dir, Listen: "127.0.0.1:0", Hosts: hosts, Out: out,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(out.String(), "Serving"); time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-done:
			if err != nil && strings.Contains(err.Error(), pgcluster.ErrNoServer.Error()) {
				t.Skip(err)
			}
			cancel()
			t.Fatalf("Run ended: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("Run does not serve:\n%s", out)
		}
	}
	return out.String(), func() error { cancel(); return <-done }
}

// dev makes its cluster, CA and certificate, prints tokens and commands,
// serves HTTPS with a certificate the CA vouches for and the local
// socket, stops cleanly, and starts again on what it kept.
func TestRun(t *testing.T) {
	dir, err := os.MkdirTemp("", "vigil-dev-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755) // PostgreSQL runs as nobody under root
	out, stop := run(t, dir, "web1.example.com")
	token := regexp.MustCompile(`--host web1\.example\.com --token ([0-9a-f]{64})\n`).FindStringSubmatch(out)
	url := regexp.MustCompile(`collector   (https://127\.0\.0\.1:\d+),`).FindStringSubmatch(out)
	if token == nil || url == nil || !strings.Contains(out, "vigil-play list --server "+filepath.Join(dir, Socket)) {
		stop()
		t.Fatalf("printed:\n%s", out)
	}

	pem, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	priv, _ := keys.Generate()
	cert, _ := fleetapi.ClientCertificate(priv, "web1.example.com")
	conn, err := tls.Dial("tcp", strings.TrimPrefix(url[1], "https://"), fleetapi.ClientConfig(roots, cert))
	if err != nil {
		t.Errorf("TLS to the collector with its CA: %v", err)
	} else {
		conn.Close()
	}
	c, err := remote.Dial(filepath.Join(dir, Socket), remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := c.Recordings(context.Background(), remote.Filter{}); err != nil || len(recs) != 0 {
		t.Errorf("list over the local socket: %v %v", recs, err)
	}
	c.Close()
	if err := stop(); err != nil {
		t.Fatalf("Run after it was stopped: %v", err)
	}
	if _, err := net.Dial("unix", filepath.Join(dir, Socket)); err == nil {
		t.Error("the local socket still answers after Run returned")
	}

	_, stop = run(t, dir)
	defer stop()
	again, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil || !bytes.Equal(again, pem) {
		t.Error("a second run made another CA: enrolled hosts would no longer trust the collector")
	}
}
