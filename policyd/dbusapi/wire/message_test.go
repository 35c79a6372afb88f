package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
)

// appendCall's messages are what godbus decodes.
func TestAppendCall(t *testing.T) {
	b := appendCall([]byte("prefix"), 7, ":1.42", Path, Interface, "Decide", "alice", "sshd", "", "pts/0")
	m, err := dbus.DecodeMessage(bytes.NewReader(b[len("prefix"):]))
	if err != nil {
		t.Fatal(err)
	}
	want := map[dbus.HeaderField]any{dbus.FieldPath: dbus.ObjectPath(Path), dbus.FieldInterface: Interface,
		dbus.FieldMember: "Decide", dbus.FieldDestination: ":1.42", dbus.FieldSignature: dbus.SignatureOf("", "", "", "")}
	for f, v := range want {
		if got := m.Headers[f].Value(); got != v {
			t.Errorf("header %d = %v, want %v", f, got, v)
		}
	}
	if m.Type != dbus.TypeMethodCall || m.Serial() != 7 || fmt.Sprint(m.Body) != "[alice sshd  pts/0]" {
		t.Errorf("type %v serial %d body %q", m.Type, m.Serial(), m.Body)
	}
	if m, err := dbus.DecodeMessage(bytes.NewReader(appendCall(nil, 1, busDaemon, busPath, busDaemon, "Hello"))); err != nil || len(m.Body) != 0 {
		t.Errorf("Hello: %v, %v", m, err)
	}
}

// encode is a message as godbus sends it (serial 0: readMessage ignores
// serials).
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

func TestReadMessage(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		var in bytes.Buffer
		in.Write(encode(t, order, dbus.TypeSignal, map[dbus.HeaderField]any{dbus.FieldPath: dbus.ObjectPath(busPath),
			dbus.FieldInterface: busDaemon, dbus.FieldMember: "NameAcquired", dbus.FieldSender: busDaemon}, ":1.9"))
		in.Write(reply(t, order, 4, true, "/bin/bash", "/usr/bin/vigil-rec-session", "{}", `rule "a" (p:1)`))
		in.Write(encode(t, order, dbus.TypeError, map[dbus.HeaderField]any{dbus.FieldReplySerial: uint32(5),
			dbus.FieldSender: ":1.7", dbus.FieldErrorName: ErrNoSuchUser}, "no such user: x", uint32(3)))
		in.Write(reply(t, order, 6, strings.Repeat("x", maxMessage)))
		in.Write(reply(t, order, 7, uint32(0)))
		r := bufio.NewReader(&in)
		var got []string
		for {
			m, err := readMessage(r)
			if err != nil {
				break
			}
			args := m.argsOf("bssss")
			d := Decision{Record: args.bool(), Shell: args.string(), Recorder: args.string(), Conf: args.string(), Rule: args.string()}
			got = append(got, fmt.Sprintf("%d %d %s %+v %v", m.typ, m.replySerial, m.sender, d, args.err))
		}
		want := []string{
			`4 0 org.freedesktop.DBus {Record:false Shell: Recorder: Conf: Rule:} reply of signature "s", want "bssss"`,
			`2 4 :1.7 {Record:true Shell:/bin/bash Recorder:/usr/bin/vigil-rec-session Conf:{} Rule:rule "a" (p:1)} <nil>`,
			`3 5 :1.7 {Record:false Shell: Recorder: Conf: Rule:} io.vigil.Policy1.Error.NoSuchUser: no such user: x`,
			`0 0  {Record:false Shell: Recorder: Conf: Rule:} reply of signature "", want "bssss"`,
			`2 7 :1.7 {Record:false Shell: Recorder: Conf: Rule:} reply of signature "u", want "bssss"`,
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v:\n%s\nwant\n%s", order, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestBusAddresses(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"unix:path=/run/dbus/system_bus_socket", "[/run/dbus/system_bus_socket]"},
		{"unix:path=/tmp/a%20b,guid=0123", "[/tmp/a b]"},
		{"unix:abstract=/tmp/dbus-x", "[@/tmp/dbus-x]"},
		{"tcp:host=localhost,port=4;unix:path=/b;unix:path=/c", "[/b /c]"},
		{"unix:path=/bad%2", "[]"},
		{"unix:path=/bad%zz", "[]"},
		{"unix:path=", "[]"},
		{"", "[]"},
	} {
		if got := fmt.Sprint(busAddresses(tc.addr)); got != tc.want {
			t.Errorf("busAddresses(%q) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}

// Whatever arrives, readMessage and the reply decoding return errors, never
// panic: a panic would take the login program down.
func FuzzReadMessage(f *testing.F) {
	f.Add(reply(f, binary.LittleEndian, 4, true, "/bin/bash", "/r", "{}", "rule"))
	f.Add(reply(f, binary.BigEndian, 2, ":1.7"))
	f.Add(reply(f, binary.LittleEndian, 3, uint32(0)))
	f.Add(encode(f, binary.LittleEndian, dbus.TypeError, map[dbus.HeaderField]any{dbus.FieldReplySerial: uint32(5),
		dbus.FieldSender: ":1.7", dbus.FieldErrorName: ErrNoSuchUser}, "no such user"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for {
			m, err := readMessage(r)
			if err != nil {
				return
			}
			for _, sig := range []string{"s", "u", "bssss"} {
				args := m.argsOf(sig)
				args.bool()
				args.uint32()
				args.string()
			}
		}
	})
}
