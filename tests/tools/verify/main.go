// Command verify checks recordings' hash chains and signatures with the
// rec/verify package, until `vigil-play verify` exists. Exit status: 0 when
// every recording is OK, 1 otherwise, 2 on usage or read errors.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/vigil-rec/vigil/rec/keys"
	"github.com/vigil-rec/vigil/rec/verify"
)

func main() {
	var keyPaths multi
	flag.Var(&keyPaths, "k", "trusted key `FILE` or directory (repeatable)")
	flag.Parse()
	trusted, err := keys.LoadPublic(keyPaths...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		os.Exit(2)
	}
	status := 0
	for _, path := range flag.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "verify:", err)
			os.Exit(2)
		}
		reports, err := verify.Recordings(f, trusted)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "verify: %s: %v\n", path, err)
			os.Exit(2)
		}
		for _, r := range reports {
			fmt.Printf("%s: %s\n", path, r)
			if r.State != verify.OK {
				status = 1
			}
		}
	}
	os.Exit(status)
}

type multi []string

func (m *multi) String() string     { return fmt.Sprint(*m) }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
