// Package storetest writes recording files for tests the way
// vigil-rec does: the real tlog encoder, hash chain and file writer.
package storetest

import (
	"crypto/ed25519"
	"errors"
	"os"
	"time"

	"github.com/vigil-rec/vigil/rec/chain"
	"github.com/vigil-rec/vigil/rec/sink"
	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/tlog"
)

// Spec describes a recording to write.
type Spec struct {
	Rec, User, Host string
	Start           time.Time
	Duration        time.Duration
	Key             ed25519.PrivateKey // nil: chained, unsigned
}

// Write records a short session in dir (named as the file writer names
// it) and sets the file's mtime to the session's end, as if it had been
// written then. It returns the file's path.
func Write(dir string, s Spec) (string, error) {
	f, err := sink.OpenFile(dir+"/", store.Meta{Start: s.Start, Host: s.Host, User: s.User, Rec: s.Rec})
	if err != nil {
		return "", err
	}
	cw := chain.New(f, s.Key, 0, func() time.Time { return s.Start })
	e := tlog.NewEncoder(tlog.Meta{Host: s.Host, Rec: s.Rec, User: s.User, Term: "xterm", Session: 1, Start: s.Start},
		tlog.Options{Payload: 2048, Output: true, Window: true}, cw)
	err = errors.Join(e.Window(0, 80, 24), e.Output(0, []byte("$ ")),
		e.Output(s.Duration, []byte("logout\r\n")), e.Close(s.Duration), f.Close())
	if err != nil {
		return "", err
	}
	end := s.Start.Add(s.Duration)
	return f.Path(), os.Chtimes(f.Path(), end, end)
}
