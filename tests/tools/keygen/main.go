// Command keygen writes a throwaway ed25519 signing key (PEM PKCS#8) and
// its public key (FILE.pub) for tests, benchmarks and the demo. Production
// keys come from `vigilctl keygen`.
package main

import (
	"crypto/ed25519"
	"fmt"
	"os"

	"github.com/vigil-rec/vigil/rec/keys"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: keygen FILE")
		os.Exit(2)
	}
	k, err := keys.Generate()
	if err == nil {
		err = keys.WritePrivate(os.Args[1], k)
	}
	if err == nil {
		err = keys.WritePublic(os.Args[1]+".pub", k.Public().(ed25519.PublicKey))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "keygen:", err)
		os.Exit(1)
	}
	fmt.Println(keys.ID(k.Public().(ed25519.PublicKey)))
}
