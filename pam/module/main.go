// Command pam_vigil.so is the PAM session module of vigil (see
// pam/README.md). Build it with
//
//	go build -buildmode=c-shared -o pam_vigil.so ./pam/module
//
// pam_vigil.c holds the pam_sm_* entry points; vigilOpenSession applies
// what pam/session decides. Nothing here runs in a child of the login
// program: libpam calls the module before the fork.
package main

/*
#cgo LDFLAGS: -lpam
#include <stdlib.h>
#include <security/pam_modules.h>

void vigil_syslog(pam_handle_t *pamh, int priority, const char *msg);
void vigil_message(pam_handle_t *pamh, int error, const char *msg);
*/
import "C"

import (
	"context"
	"fmt"
	"syscall"
	"unsafe"

	"github.com/vigil-rec/vigil/pam/session"
)

// pamCode is PAM's code for r. A Result it does not know denies the
// session: a map lookup would have made it 0, PAM_SUCCESS.
func pamCode(r session.Result) C.int {
	switch r {
	case session.Ignore:
		return C.PAM_IGNORE
	case session.Success:
		return C.PAM_SUCCESS
	default:
		return C.PAM_PERM_DENIED
	}
}

//export vigilOpenSession
func vigilOpenSession(pamh *C.pam_handle_t, flags, argc C.int, argv **C.char,
	user, service, rhost, tty *C.char, found C.int, shell *C.char) C.int {
	var args []string
	for _, a := range unsafe.Slice(argv, int(argc)) {
		args = append(args, C.GoString(a))
	}
	opts, logs := session.ParseArgs(args)
	req := session.Request{
		User: C.GoString(user), Service: C.GoString(service),
		Rhost: C.GoString(rhost), Tty: C.GoString(tty),
		NSSFound: found != 0, NSSShell: C.GoString(shell),
		Silent:     flags&C.PAM_SILENT != 0,
		CallerRoot: syscall.Getuid() == 0,
	}
	o := session.Open(context.Background(), opts, req, session.Bus{}, session.ReadSnapshot)
	logs = append(logs, o.Logs...)
	r := pamCode(o.Result)
	for _, kv := range o.Env {
		if rc := putenv(pamh, kv); rc != C.PAM_SUCCESS {
			// Without its environment the recorder cannot start the
			// user's shell: fail closed.
			logs = append(logs, session.Log{Priority: session.Err,
				Text: fmt.Sprintf("pam_putenv: %s: session denied", C.GoString(C.pam_strerror(pamh, rc)))})
			o.Messages = append(o.Messages, session.Message{Error: true, Text: "vigil: cannot set up session recording; login refused"})
			r = C.PAM_SESSION_ERR
			break
		}
	}
	for _, l := range logs {
		withCString(l.Text, func(s *C.char) { C.vigil_syslog(pamh, C.int(l.Priority), s) })
	}
	for _, m := range o.Messages {
		isErr := C.int(0)
		if m.Error {
			isErr = 1
		}
		withCString(m.Text, func(s *C.char) { C.vigil_message(pamh, isErr, s) })
	}
	return r
}

func putenv(pamh *C.pam_handle_t, kv string) (rc C.int) {
	withCString(kv, func(s *C.char) { rc = C.pam_putenv(pamh, s) })
	return rc
}

func withCString(s string, f func(*C.char)) {
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	f(cs)
}

func main() {}
