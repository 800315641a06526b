// Command earshot is the Earshot daemon and its administration tool. main
// only lists the subcommands and hands the command line to cli.Main: the
// daemon's own commands come from package daemon, the admin commands and
// offline tools from package cli.
package main

import (
	"errors"
	"io"
	"os"

	"github.com/earshot/earshot/cmd/earshot/cli"
	"github.com/earshot/earshot/daemon"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], commands(), cli.Stdio()))
}

// commands lists every subcommand of the binary.
func commands() []cli.Command {
	env := cli.Env{ConfigPath: daemon.DefaultConfigPath, Version: daemon.Version, Offline: daemon.Offline{}, Doctor: daemon.RunDoctor,
		ConfigCheck: configCheck,
		LoadSite: func(path string) (cli.Site, error) {
			s, err := daemon.LoadSite(path)
			return cli.Site(s), err
		}}
	return append(cli.Commands(env),
		cli.Command{Name: "serve", Summary: "run the daemon in the foreground (or under the service manager)", Run: daemonCommand(daemon.Serve)},
		cli.Command{Name: "service", Summary: "install|uninstall|start|stop|restart|status the OS service", Run: daemonCommand(daemon.ServiceCommand)},
		cli.Command{Name: "analyze", Summary: "FILE: transcribe a WAV file (or read a JSON transcript) offline and print it", Run: daemonCommand(daemon.Analyze)},
	)
}

// configCheck is `earshot config check`, whose usage errors are the
// command line's.
func configCheck(stdout, stderr io.Writer, args []string) error {
	return daemonCommand(daemon.ConfigCommand)(cli.IO{Out: stdout, Err: stderr}, args)
}

// daemonCommand adapts one of the daemon's commands: its usage errors are
// the command line's.
func daemonCommand(run func(stdout, stderr io.Writer, args []string) error) func(cli.IO, []string) error {
	return func(stdio cli.IO, args []string) error {
		err := run(stdio.Out, stdio.Err, args)
		if errors.Is(err, daemon.ErrUsage) {
			return cli.UsageError(err)
		}
		return err
	}
}
