// Command earshot is the Earshot daemon and its administration tool. main
// only picks the subcommand; everything else lives in package daemon.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/earshot/earshot/daemon"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		daemon.Usage(os.Stderr)
		os.Exit(2)
	}
	cmd, ok := daemon.Lookup(os.Args[1])
	if !ok {
		fmt.Fprintf(os.Stderr, "earshot: unknown command %q\n\n", os.Args[1])
		daemon.Usage(os.Stderr)
		os.Exit(2)
	}
	if err := cmd.Run(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "earshot:", err)
		if errors.Is(err, daemon.ErrUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
