package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-rec/vigil/play/collector/devmode"
	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/rec/fleetapi"
	"github.com/vigil-rec/vigil/rec/keys"
)

// serverCert writes a certificate for 127.0.0.1 and its key into dir.
func serverCert(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	if _, err := devmode.Certificates(dir); err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(filepath.Join(dir, devmode.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return filepath.Join(dir, devmode.CertFile), filepath.Join(dir, devmode.KeyFile), roots
}

// serve enrolls a host added with `hosts add` over HTTPS, and stops on
// SIGTERM.
func TestServe(t *testing.T) {
	db := pgtest.DB(t)
	certFile, keyFile, roots := serverCert(t, t.TempDir())
	// A free loopback port: serve says none it picks.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	var out bytes.Buffer
	if code := run([]string{"hosts", "add", "--db", db, "--url", "https://" + addr, "web1.example.com"}, &out, &out); code != 0 {
		t.Fatalf("hosts add: %d\n%s", code, out.String())
	}
	token := regexp.MustCompile(`--token ([0-9a-f]{64})\n`).FindStringSubmatch(out.String())[1]

	var logs bytes.Buffer
	done := make(chan int, 1)
	sock := filepath.Join(t.TempDir(), "read.sock")
	group, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- run([]string{"serve", "--db", db, "--listen", addr, "--cert", certFile, "--key", keyFile,
			"--read-socket", sock, "--read-group", group.Name}, &logs, &logs)
	}()
	priv, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := fleetapi.ClientCertificate(priv, "web1.example.com")
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: fleetapi.ClientConfig(roots, cert)}, Timeout: time.Minute}
	body, _ := json.Marshal(fleetapi.Enroll{Host: "web1.example.com", Token: token, PublicKey: priv.Public().(ed25519.PublicKey)})
	var resp *http.Response
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case code := <-done:
			t.Fatalf("serve ended: %d\n%s", code, logs.String())
		default:
		}
		resp, err = hc.Post("https://"+addr+fleetapi.PathEnroll, "application/json", bytes.NewReader(body))
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	var r fleetapi.EnrollReply
	err = json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || r.KeyID != keys.ID(priv.Public().(ed25519.PublicKey)) {
		t.Errorf("enroll: %s %+v %v", resp.Status, r, err)
	}
	hc.CloseIdleConnections()
	// Readers on the collector's host use the local socket.
	local := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	if resp, err := local.Get("http://collector" + fleetapi.PathRecordings); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("list over the local socket: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	local.CloseIdleConnections()
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 || fi.Sys().(*syscall.Stat_t).Gid != uint32(os.Getgid()) {
		t.Errorf("local socket: %v %v, want 0660 of group %s", fi, err, group.Name)
	}
	// serve listens after it has taken SIGTERM over: the signal stops it,
	// not this test.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve after SIGTERM: %d\n%s", code, logs.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

// readers add, list and revoke who may read over HTTPS.
func TestReaders(t *testing.T) {
	db := pgtest.DB(t)
	dir := t.TempDir()
	priv, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "alice.pub")
	if err := keys.WritePublic(pub, priv.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	id := keys.ID(priv.Public().(ed25519.PublicKey))
	cli := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(append(args, "--db", db), &out, &out)
		return code, out.String()
	}
	if code, out := cli("readers", "add", "alice", pub); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("readers add: %d %q", code, out)
	}
	if code, out := cli("readers", "add", "bob", filepath.Join(dir, "none.pub")); code != 1 || !strings.Contains(out, "none.pub") {
		t.Errorf("readers add of a missing key file: %d %q", code, out)
	}
	if code, out := cli("readers", "add", "alice", pub); code != 1 || !strings.Contains(out, "already") {
		t.Errorf("readers add again: %d %q", code, out)
	}
	if code, out := cli("readers", "list"); code != 0 || !regexp.MustCompile(`(?m)^alice +allowed +\S+ +`+id+`$`).MatchString(out) {
		t.Errorf("readers list: %d %q", code, out)
	}
	if code, out := cli("readers", "revoke", "alice"); code != 0 || !strings.Contains(out, "alice revoked") {
		t.Errorf("readers revoke: %d %q", code, out)
	}
	if code, out := cli("readers", "list"); code != 0 || !regexp.MustCompile(`(?m)^alice +revoked `).MatchString(out) {
		t.Errorf("readers list after revoke: %d %q", code, out)
	}
}
