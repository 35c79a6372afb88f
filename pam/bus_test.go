package pam

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/vigil-rec/vigil/pam/pamtest"
	"github.com/vigil-rec/vigil/policyd/dbusapi/wire"
	"github.com/vigil-rec/vigil/rec/svctest"
)

var busPolicy = pamtest.Policy{Decisions: map[string]wire.Decision{
	"alice": {Record: true, Shell: "/bin/bash", Recorder: pamtest.Recorder, Conf: `{"notice":"hi"}`, Rule: `rule "all" (/etc/vigil/policy.toml:3)`},
	"bob":   {Shell: "/bin/sh", Recorder: pamtest.Recorder, Conf: "{}", Rule: "default"},
	"slow":  {Record: true},
}, Slow: "slow"}

// decide runs vbus_decide through the driver: its one output line and how
// long it took.
func decide(t *testing.T, addr string, trustUID uint32, timeout time.Duration, user string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	out := runDriver(t, "", "bus", addr, fmt.Sprint(trustUID), fmt.Sprint(timeout.Milliseconds()), user, "sshd", "10.0.0.1", "pts/0")
	return out[0], time.Since(start)
}

func TestBusDecide(t *testing.T) {
	svctest.RequireRoot(t)
	addr := svctest.StartSystemBus(t)
	pamtest.Serve(t, addr, busPolicy)
	for _, user := range []string{"alice", "bob"} {
		d := busPolicy.Decisions[user]
		want := fmt.Sprintf("ok %d|%s|%s|%s|%s", map[bool]int{true: 1}[d.Record], d.Shell, d.Recorder, d.Conf, d.Rule)
		if got, _ := decide(t, addr, 0, 5*time.Second, user); got != want {
			t.Errorf("decide %s: %q, want %q", user, got, want)
		}
	}
	if got, _ := decide(t, addr, 0, 5*time.Second, "mallory"); !strings.HasPrefix(got, "nosuchuser ") || !strings.Contains(got, wire.ErrNoSuchUser) {
		t.Errorf("decide mallory: %q, want NoSuchUser", got)
	}
	got, took := decide(t, addr, 0, 200*time.Millisecond, "slow")
	if got != "failed decide: receive: timed out" {
		t.Errorf("decide past the deadline: %q", got)
	}
	if took > 2*time.Second {
		t.Errorf("decide took %v past a 200ms deadline", took)
	}
	// An owner that is not the trusted uid is not believed, even saying
	// NoSuchUser.
	for _, user := range []string{"alice", "mallory"} {
		if got, _ := decide(t, addr, 4242, 5*time.Second, user); !strings.HasPrefix(got, "failed ") || !strings.Contains(got, "has uid 0, want 4242: not trusted") {
			t.Errorf("decide %s trusting uid 4242: %q, want untrusted", user, got)
		}
	}
	// The first address of a list that accepts is the bus.
	if got, _ := decide(t, "unix:path="+t.TempDir()+"/none;"+addr, 0, 5*time.Second, "alice"); !strings.HasPrefix(got, "ok 1|") {
		t.Errorf("decide with a dead first address: %q", got)
	}
}

func TestBusNoOwner(t *testing.T) {
	svctest.RequireRoot(t)
	got, _ := decide(t, svctest.StartSystemBus(t), 0, 5*time.Second, "alice")
	if !strings.HasPrefix(got, "failed owner of io.vigil.Policy1: org.freedesktop.DBus.Error.NameHasNoOwner") {
		t.Errorf("decide without policyd: %q", got)
	}
}

func TestBusUnreachable(t *testing.T) {
	dir := t.TempDir()
	for addr, want := range map[string]string{
		"unix:path=" + dir + "/none":                       "failed system bus: " + dir + "/none: No such file or directory",
		"unix:abstract=vigil-test-none-" + t.Name():        "failed system bus: @vigil-test-none-" + t.Name() + ": Connection refused",
		"tcp:host=localhost,port=1":                        `failed system bus: "tcp:host=localhost,port=1": no unix socket address`,
		"unix:path=/a%2":                                   "failed system bus: \"unix:path=/a%2\": no unix socket address",
		"unix:path=" + dir + "/x%20y,guid=1;unix:path=/b%": "failed system bus: " + dir + "/x y: No such file or directory",
		"": `failed system bus: "": no unix socket address`,
	} {
		if got, _ := decide(t, addr, 0, 5*time.Second, "alice"); got != want {
			t.Errorf("decide on %q: %q, want %q", addr, got, want)
		}
	}
}

func TestBusHung(t *testing.T) {
	// Accepts and never answers the handshake.
	got, took := decide(t, svctest.HungBus(t), 0, 300*time.Millisecond, "alice")
	if got != "failed system bus handshake: receive: timed out" {
		t.Errorf("decide on a hung bus: %q", got)
	}
	if took > 2*time.Second {
		t.Errorf("decide took %v past a 300ms deadline", took)
	}
}

// The module's method calls are what godbus decodes.
func TestCall(t *testing.T) {
	out, err := exec.Command(driver, "call", "7", ":1.42", "alice", "sshd", "", "pts/0").Output()
	if err != nil {
		t.Fatal(err)
	}
	m, err := dbus.DecodeMessage(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want := map[dbus.HeaderField]any{dbus.FieldPath: dbus.ObjectPath(wire.Path), dbus.FieldInterface: wire.Interface,
		dbus.FieldMember: "Decide", dbus.FieldDestination: ":1.42", dbus.FieldSignature: dbus.SignatureOf("", "", "", "")}
	for f, v := range want {
		if got := m.Headers[f].Value(); got != v {
			t.Errorf("header %d = %v, want %v", f, got, v)
		}
	}
	if m.Type != dbus.TypeMethodCall || m.Serial() != 7 || fmt.Sprint(m.Body) != "[alice sshd  pts/0]" {
		t.Errorf("type %v serial %d body %q", m.Type, m.Serial(), m.Body)
	}
	if out, err := exec.Command(driver, "call", "1", "org.freedesktop.DBus").Output(); err != nil {
		t.Fatal(err)
	} else if m, err := dbus.DecodeMessage(bytes.NewReader(out)); err != nil || len(m.Body) != 0 || m.Headers[dbus.FieldSignature].Value() != nil {
		t.Errorf("a call without arguments: %v, %v", m, err)
	}
}

// encode is a message as godbus sends it.
func encode(t testing.TB, order binary.ByteOrder, typ dbus.Type, headers map[dbus.HeaderField]any, body ...any) []byte {
	t.Helper()
	m := dbus.Message{Type: typ, Headers: map[dbus.HeaderField]dbus.Variant{}, Body: body}
	for f, v := range headers {
		m.Headers[f] = dbus.MakeVariant(v)
	}
	if len(body) > 0 {
		m.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
	}
	var b bytes.Buffer
	if err := m.EncodeTo(&b, order); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func reply(t testing.TB, order binary.ByteOrder, serial uint32, body ...any) []byte {
	return encode(t, order, dbus.TypeMethodReply, map[dbus.HeaderField]any{
		dbus.FieldReplySerial: serial, dbus.FieldSender: ":1.7", dbus.FieldDestination: ":1.9"}, body...)
}

// maxMessage is bus.c's MAX_MESSAGE.
const maxMessage = 1 << 20

func TestReadMessage(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		var in bytes.Buffer
		in.Write(encode(t, order, dbus.TypeSignal, map[dbus.HeaderField]any{dbus.FieldPath: dbus.ObjectPath("/org/freedesktop/DBus"),
			dbus.FieldInterface: "org.freedesktop.DBus", dbus.FieldMember: "NameAcquired", dbus.FieldSender: "org.freedesktop.DBus"}, ":1.9"))
		in.Write(reply(t, order, 4, true, "/bin/bash", "/usr/bin/vigil-rec-session", "{}", `rule "a" (p:1)`))
		in.Write(encode(t, order, dbus.TypeError, map[dbus.HeaderField]any{dbus.FieldReplySerial: uint32(5),
			dbus.FieldSender: ":1.7", dbus.FieldErrorName: wire.ErrNoSuchUser}, "no such user: x", uint32(3)))
		in.Write(reply(t, order, 6, strings.Repeat("x", maxMessage)))
		in.Write(reply(t, order, 7, uint32(0)))
		// A string with a NUL inside (godbus will not encode one).
		in.Write(bytes.Replace(reply(t, order, 8, true, "/bin/ba@sh", "r", "{}", "rule"), []byte("@"), []byte{0}, 1))
		got := runDriver(t, string(record(in.Bytes())), "parse")
		want := []string{
			`msg 4 0 org.freedesktop.DBus`, `error decide: reply of signature "s", want "bssss"`,
			`msg 2 4 :1.7`, `decision 1|/bin/bash|/usr/bin/vigil-rec-session|{}|rule "a" (p:1)`,
			`msg 3 5 :1.7`, `error decide: io.vigil.Policy1.Error.NoSuchUser: no such user: x`,
			`msg 0 0 `, `error decide: reply of signature "", want "bssss"`,
			`msg 2 7 :1.7`, `error decide: reply of signature "u", want "bssss"`,
			`msg 2 8 :1.7`, `bad`,
			`end receive: the bus closed the connection`,
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v:\n%s\nwant\n%s", order, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// record is one stream for the driver's parse.
func record(stream []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(stream))), stream...)
}

// Whatever the bus sends, the reader fails cleanly: under AddressSanitizer
// and UBSan, 20,000 streams of mutated valid replies (bytes flipped, lengths
// changed, cut short) are read without a fault, a leak or a hang, each to
// its end.
func TestReadMessageMutations(t *testing.T) {
	seeds := [][]byte{
		reply(t, binary.LittleEndian, 4, true, "/bin/bash", "/r", "{}", "rule"),
		reply(t, binary.BigEndian, 2, ":1.7"),
		reply(t, binary.LittleEndian, 3, uint32(0)),
		encode(t, binary.LittleEndian, dbus.TypeError, map[dbus.HeaderField]any{dbus.FieldReplySerial: uint32(5),
			dbus.FieldSender: ":1.7", dbus.FieldErrorName: wire.ErrNoSuchUser}, "no such user"),
	}
	rng := rand.New(rand.NewPCG(13, 17))
	const streams = 20000
	var in bytes.Buffer
	for range streams {
		var stream []byte
		// One bad message ends a stream, so keep them short.
		for range 1 + rng.IntN(3) {
			m := bytes.Clone(seeds[rng.IntN(len(seeds))])
			switch rng.IntN(4) {
			case 0: // flip bytes
				for range 1 + rng.IntN(4) {
					m[rng.IntN(len(m))] ^= byte(1 + rng.IntN(255))
				}
			case 1: // a length field (body, header fields, a string) set at random
				off := []int{4, 12, 16 + rng.IntN(len(m)-20)}[rng.IntN(3)]
				binary.LittleEndian.PutUint32(m[off:], rng.Uint32()>>uint(rng.IntN(32)))
			case 2: // cut short
				m = m[:rng.IntN(len(m))]
			}
			stream = append(stream, m...)
		}
		in.Write(record(stream))
	}
	ends := 0
	for _, l := range runDriver(t, in.String(), "parse") {
		if strings.HasPrefix(l, "end ") {
			ends++
		}
	}
	if ends != streams {
		t.Errorf("%d of %d streams read to their end", ends, streams)
	}
}

// parser is one driver process reading streams for FuzzReadMessage: a
// process per input would leave the fuzzer a few inputs a second.
var parser struct {
	once sync.Once
	in   io.WriteCloser
	out  *bufio.Reader
	err  error
}

// FuzzReadMessage feeds the bus reader (bus.c, under AddressSanitizer and
// UBSan) whatever the fuzzer makes: it must read every stream to its end
// and never fault.
func FuzzReadMessage(f *testing.F) {
	f.Add(reply(f, binary.LittleEndian, 4, true, "/bin/bash", "/r", "{}", "rule"))
	f.Add(reply(f, binary.BigEndian, 2, ":1.7"))
	f.Add(reply(f, binary.LittleEndian, 3, uint32(0)))
	f.Add(encode(f, binary.LittleEndian, dbus.TypeError, map[dbus.HeaderField]any{dbus.FieldReplySerial: uint32(5),
		dbus.FieldSender: ":1.7", dbus.FieldErrorName: wire.ErrNoSuchUser}, "no such user"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parser.once.Do(func() {
			cmd := exec.Command(driver, "parse")
			cmd.Stderr = os.Stderr
			if parser.in, parser.err = cmd.StdinPipe(); parser.err != nil {
				return
			}
			out, err := cmd.StdoutPipe()
			if parser.err = err; err == nil {
				parser.out = bufio.NewReader(out)
				parser.err = cmd.Start()
			}
		})
		if parser.err != nil {
			t.Fatal(parser.err)
		}
		if _, err := parser.in.Write(record(b)); err != nil {
			t.Fatalf("driver parse died: %v", err)
		}
		for {
			l, err := parser.out.ReadString('\n')
			if err != nil {
				t.Fatalf("driver parse died on %x: %v", b, err)
			}
			if strings.HasPrefix(l, "end ") {
				return
			}
		}
	})
}
