package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/earshot/earshot/store"
)

// versionCommand is `earshot version [-v] [--check-data DIR]`: the
// package's Debian version (the same string the package carries), the
// modules built in with -v, and with --check-data the schema versions of
// a data directory against this build's.
func versionCommand(env Env) func(IO, []string) error {
	return func(stdio IO, args []string) error {
		const usage = "earshot version [-v] [--check-data DIR]"
		fs := flag.NewFlagSet("version", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		verbose := fs.Bool("v", false, "also print the Go toolchain, the build settings and every module built in")
		dataDir := fs.String("check-data", "", "print the schema versions of the data directory DIR and whether this build opens, upgrades or refuses it")
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdio.Out, "usage: %s\n\nflags:\n", usage)
			fs.SetOutput(stdio.Out)
			fs.PrintDefaults()
			return err
		}
		if err != nil {
			return usageErr("version: %v (earshot version -h lists the flags)", err)
		}
		if fs.NArg() != 0 {
			return usageErr("%s", usage)
		}
		fmt.Fprintln(stdio.Out, "earshot", env.Version)
		if *verbose {
			printBuildInfo(stdio.Out)
		}
		if *dataDir != "" {
			info, err := store.InspectSchema(*dataDir)
			if err != nil {
				if errors.Is(err, store.ErrInUse) {
					return fmt.Errorf("%w: a running daemon holds it; `earshot doctor` asks it instead", err)
				}
				return err
			}
			fmt.Fprintln(stdio.Out, info)
			if info.State() == "newer" {
				return fmt.Errorf("%s was written by a newer earshot than %s", *dataDir, env.Version)
			}
		}
		return nil
	}
}

// printBuildInfo writes the toolchain, the main module, the build settings
// and each dependency with its version and checksum, as recorded in the
// binary.
func printBuildInfo(w io.Writer) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(w, "no build information in this binary")
		return
	}
	fmt.Fprintf(w, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "module %s %s\n", bi.Main.Path, bi.Main.Version)
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.time", "vcs.modified", "CGO_ENABLED", "-trimpath", "GOAMD64", "GOARM64":
			fmt.Fprintf(w, "build %s=%s\n", s.Key, s.Value)
		}
	}
	for _, d := range bi.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		line := fmt.Sprintf("dep %s %s", d.Path, m.Version)
		if d.Replace != nil {
			line += " => " + m.Path
		}
		if m.Sum != "" {
			line += " " + m.Sum
		}
		fmt.Fprintln(w, line)
	}
}
