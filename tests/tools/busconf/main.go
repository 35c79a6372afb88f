// Command busconf prints a dbus-daemon configuration for a private system
// bus (svctest.BusConfig) for scripts: the demo and the policyd benchmark.
package main

import (
	"fmt"
	"os"

	"github.com/vigil-rec/vigil/rec/svctest"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: busconf SOCKET POLICY-DIR")
		os.Exit(2)
	}
	fmt.Print(svctest.BusConfig(os.Args[1], os.Args[2]))
}
