package audit

import (
	"fmt"
	"testing"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/auparse"
)

type discard struct{ n int }

func (d *discard) ReassemblyComplete(msgs []*auparse.AuditMessage) {
	if joinEvent(msgs) != nil {
		d.n++
	}
}
func (*discard) EventsLost(int) {}

// BenchmarkReassembleJoin is the Reader's user-space work for one exec
// event of /bin/true as root (7 records pushed, as the kernel sends them).
func BenchmarkReassembleJoin(b *testing.B) {
	recs := []struct {
		typ  auparse.AuditMessageType
		body string
	}{
		{auparse.AUDIT_SYSCALL, `arch=c000003e syscall=59 success=yes exit=0 a0=563e01135b38 a1=563e01135bc8 a2=563e01135bf8 a3=8 items=2 ppid=2000 pid=2001 auid=4242 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=3327 comm="true" exe="/usr/bin/true" key="vigil-exec"`},
		{auparse.AUDIT_EXECVE, `argc=1 a0="/bin/true"`},
		{auparse.AUDIT_CWD, `cwd="/tmp"`},
		{auparse.AUDIT_PATH, `item=0 name="/bin/true" inode=247849 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`},
		{auparse.AUDIT_PATH, `item=1 name="/lib64/ld-linux-x86-64.so.2" inode=325835 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`},
		{auparse.AUDIT_PROCTITLE, `proctitle="/bin/true"`},
		{auparse.AUDIT_EOE, ``},
	}
	d := &discard{}
	r, err := libaudit.NewReassembler(1024, 2*time.Second, d)
	if err != nil {
		b.Fatal(err)
	}
	data := make([][][]byte, 1000)
	for i := range data {
		for _, rec := range recs {
			data[i] = append(data[i], []byte(fmt.Sprintf("audit(1796509706.148:%d): %s", i+1, rec.body)))
		}
	}
	b.ResetTimer()
	for i := range b.N {
		ev := data[i%len(data)]
		for j, rec := range recs {
			_ = r.Push(rec.typ, ev[j])
		}
	}
	b.StopTimer()
	if d.n == 0 {
		b.Fatal("no events")
	}
}
