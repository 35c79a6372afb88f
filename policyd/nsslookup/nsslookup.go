// Package nsslookup resolves users and groups through the host's full NSS
// chain (files, sss, ldap, systemd, ...) with the vigil module bypassed, so
// policyd never asks itself (policyd/spec/nss.md, "Bypass").
package nsslookup

/*
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"github.com/vigil-rec/vigil/conf/decide"
)

// BypassEnv makes libnss_vigil answer UNAVAIL at once.
const BypassEnv = "VIGIL_NSS_BYPASS"

// Bypass makes this process's lookups skip the vigil module. policyd calls
// it before its first lookup; vigilctl only where it evaluates policy
// itself (its `check` must see NSS as login programs do). With cgo,
// os.Setenv reaches libc's environment, where the module reads it.
func Bypass() {
	os.Setenv(BypassEnv, "1")
}

// ErrNoSuchUser is returned for a name or uid NSS does not know.
var ErrNoSuchUser = errors.New("no such user")

// enumMu serialises the *pwent/*grent iterations, whose state is global.
var enumMu sync.Mutex

const bufMax = 1 << 20

// User looks up name.
func User(name string) (*decide.User, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return lookup(name, func(pw *C.struct_passwd, buf *C.char, n C.size_t, res **C.struct_passwd) C.int {
		return C.getpwnam_r(cname, pw, buf, n, res)
	})
}

// UserByID looks up uid.
func UserByID(uid uint32) (*decide.User, error) {
	return lookup(fmt.Sprintf("uid %d", uid), func(pw *C.struct_passwd, buf *C.char, n C.size_t, res **C.struct_passwd) C.int {
		return C.getpwuid_r(C.uid_t(uid), pw, buf, n, res)
	})
}

func lookup(what string, get func(*C.struct_passwd, *C.char, C.size_t, **C.struct_passwd) C.int) (*decide.User, error) {
	var pw C.struct_passwd
	var res *C.struct_passwd
	for size := C.size_t(1024); ; size *= 2 {
		buf := C.malloc(size)
		rc := get(&pw, (*C.char)(buf), size, &res)
		if rc == C.ERANGE && size < bufMax {
			C.free(buf)
			continue
		}
		defer C.free(buf)
		switch {
		case rc != 0:
			return nil, fmt.Errorf("getpwnam %s: %w", what, errnoErr(rc))
		case res == nil:
			return nil, fmt.Errorf("%s: %w", what, ErrNoSuchUser)
		}
		return fromPasswd(&pw), nil
	}
}

func errnoErr(rc C.int) error { return errors.New(C.GoString(C.strerror(rc))) }

func fromPasswd(pw *C.struct_passwd) *decide.User {
	return &decide.User{
		Name:   C.GoString(pw.pw_name),
		Passwd: C.GoString(pw.pw_passwd),
		UID:    uint32(pw.pw_uid),
		GID:    uint32(pw.pw_gid),
		Gecos:  C.GoString(pw.pw_gecos),
		Dir:    C.GoString(pw.pw_dir),
		Shell:  C.GoString(pw.pw_shell),
	}
}

// Groups returns the names of every group u is in, primary included, as
// getgrouplist finds them through the whole NSS chain. A gid without a name
// is given as its number.
func Groups(name string, gid uint32) ([]string, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	n := C.int(64)
	for {
		gids := make([]C.gid_t, n)
		got := n
		if C.getgrouplist(cname, C.gid_t(gid), &gids[0], &got) == -1 {
			if got <= n || got > 1<<16 {
				return nil, fmt.Errorf("getgrouplist %s: failed with %d groups", name, got)
			}
			n = got
			continue
		}
		names := make([]string, 0, got)
		for _, g := range gids[:got] {
			names = append(names, GroupName(uint32(g)))
		}
		return names, nil
	}
}

// GroupName returns the name of gid, or the number when NSS has none.
func GroupName(gid uint32) string {
	var gr C.struct_group
	var res *C.struct_group
	for size := C.size_t(1024); size <= bufMax; size *= 2 {
		buf := C.malloc(size)
		rc := C.getgrgid_r(C.gid_t(gid), &gr, (*C.char)(buf), size, &res)
		if rc == C.ERANGE {
			C.free(buf)
			continue
		}
		name := ""
		if rc == 0 && res != nil {
			name = C.GoString(gr.gr_name)
		}
		C.free(buf)
		if name != "" {
			return name
		}
		break
	}
	return fmt.Sprint(gid)
}

// All enumerates every user and their groups as far as the NSS sources
// enumerate (files and systemd do; LDAP and SSSD often do not, and such
// users are resolved one by one when asked). When every group source
// enumerates, memberships come from one pass over the group database
// instead of getgrouplist per user, which would rescan it for every user;
// otherwise (sss, ldap, ... on the group line) from getgrouplist, so that
// the snapshot sees the groups PAM-time decisions see.
func All() []*decide.User {
	enumMu.Lock()
	defer enumMu.Unlock()
	var users []*decide.User
	C.setpwent()
	for {
		pw := C.getpwent()
		if pw == nil {
			break
		}
		users = append(users, fromPasswd(pw))
	}
	C.endpwent()
	members := map[string][]string{}
	names := map[uint32]string{}
	C.setgrent()
	for {
		gr := C.getgrent()
		if gr == nil {
			break
		}
		g := C.GoString(gr.gr_name)
		names[uint32(gr.gr_gid)] = g
		for p := gr.gr_mem; p != nil && *p != nil; p = (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(*p))) {
			m := C.GoString(*p)
			members[m] = append(members[m], g)
		}
	}
	C.endgrent()
	enumerable := groupsEnumerate(nsswitchConf)
	for _, u := range users {
		if !enumerable {
			if g, err := Groups(u.Name, u.GID); err == nil {
				u.Groups = g
				continue
			}
		}
		primary, ok := names[u.GID]
		if !ok {
			primary = GroupName(u.GID)
		}
		u.Groups = append([]string{primary}, members[u.Name]...)
	}
	return users
}

const nsswitchConf = "/etc/nsswitch.conf"

// groupsEnumerate says whether every source on nsswitch.conf's group line
// lists all memberships when enumerated.
func groupsEnumerate(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return true // glibc's default without the file: files
	}
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "group:")
		if !ok {
			continue
		}
		for _, src := range strings.Fields(rest) {
			switch {
			case strings.HasPrefix(src, "["): // an action, not a source
			case src == "files", src == "compat", src == "systemd", src == "db":
			default:
				return false
			}
		}
	}
	return true
}
