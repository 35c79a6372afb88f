// Command mksnap writes a snapshot for nss/bench/run.sh: every user of a
// passwd file (those named by -record recorded, the rest not), padded with
// synthetic users to -n entries, so lookups walk a realistically full
// table while the files source can still answer the real users.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-rec/vigil/policyd/nssdb"
)

const recorder = "/usr/bin/vigil-rec-session"

func main() {
	out := flag.String("o", "", "snapshot to write")
	n := flag.Int("n", 10000, "entries in total")
	record := flag.String("record", "root", "comma-separated users to record")
	passwd := flag.String("passwd", "/etc/passwd", "passwd file with the real users")
	flag.Parse()
	if *out == "" {
		log.Fatal("mksnap: -o is required")
	}
	recorded := strings.Split(*record, ",")
	entries, err := readPasswd(*passwd, recorded)
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; len(entries) < *n; i++ {
		entries = append(entries, nssdb.Entry{
			Name: fmt.Sprintf("vigil-bench-%05d", i), Passwd: "x", UID: uint32(2000000 + i), GID: 100,
			Gecos: "bench user", Dir: fmt.Sprintf("/home/vigil-bench-%05d", i), Shell: recorder, Recorded: i%2 == 0,
		})
	}
	if err := nssdb.WriteSnapshot(*out, 1, false, entries); err != nil {
		log.Fatal(err)
	}
}

func readPasswd(path string, recorded []string) ([]nssdb.Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var entries []nssdb.Entry
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fl := strings.Split(sc.Text(), ":")
		if len(fl) != 7 {
			continue
		}
		uid, err1 := strconv.ParseUint(fl[2], 10, 32)
		gid, err2 := strconv.ParseUint(fl[3], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s:%d: bad uid or gid", path, line)
		}
		e := nssdb.Entry{Name: fl[0], Passwd: fl[1], UID: uint32(uid), GID: uint32(gid), Gecos: fl[4], Dir: fl[5], Shell: fl[6]}
		if slices.Contains(recorded, e.Name) {
			e.Shell, e.Recorded = recorder, true
		}
		entries = append(entries, e)
	}
	return entries, sc.Err()
}
