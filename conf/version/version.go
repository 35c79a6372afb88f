// Package version holds the version every Vigil program reports. The
// Makefile sets it from its VERSION (-ldflags -X), the one place it is
// written; a plain go build says "dev".
package version

// Version is set at link time: -X github.com/vigil-rec/vigil/conf/version.Version=...
var Version = "dev"
