// Command testbed brings up multi-component end-to-end test environments on
// Kubernetes. See `testbed --help`.
package main

import (
	"os"

	"github.com/kubetestbed/testbed/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
