// Package cli is the earshot binary's command line apart from the daemon
// itself: the admin commands that call a running daemon's API (queues,
// users, tokens, audit, backups, keys, purge), the offline tools (forecast,
// restore, plugin install) and the dispatcher that main hands the command
// line to. It depends on the API's request and response types
// (daemon/api), never on the daemon's internals; the daemon's own
// commands (serve, service, config, analyze) come in from main as plain
// Commands.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/store"
)

// ErrUsage marks a mistake on the command line; Main exits 2 for it.
var ErrUsage = errors.New("usage error")

// UsageError marks err, a command's own usage error, as one for Main.
func UsageError(err error) error { return usageError{err} }

type usageError struct{ error }

func (e usageError) Is(target error) bool { return target == ErrUsage }
func (e usageError) Unwrap() error        { return e.error }

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

// IO is what a command reads and writes.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// Stdio is the process's standard input, output and error.
func Stdio() IO { return IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// Command is one subcommand of the earshot binary.
type Command struct {
	Name string
	// Summary is the one line `earshot -h` shows.
	Summary string
	// Run runs the command on the arguments after its name. It answers
	// flag.ErrHelp when it printed its help on request (-h), and an error
	// wrapping ErrUsage for a mistake on the command line.
	Run func(io IO, args []string) error
}

// Site is where the admin commands find the daemon, read from its
// configuration file (daemon.LoadSite).
type Site struct {
	API            string // the API's base URL
	CACertFile     string // certificate to trust for the API, or ""
	DataDir        string
	AdminTokenFile string // the bootstrap admin token, the default credential
	PluginDir      string
}

// Env is what the commands of this package need from the daemon's side.
type Env struct {
	// ConfigPath is the default of --config.
	ConfigPath string
	// LoadSite reads a configuration file.
	LoadSite func(configPath string) (Site, error)
	// Version is the binary's version.
	Version string
	// Offline verifies and reseals stopped data directories and backups
	// (daemon.Offline); nil leaves those commands unavailable.
	Offline OfflineStore
	// Doctor runs the self-checks here for a configuration file, with the
	// daemon stopped (daemon.RunDoctor); nil leaves only the API's.
	Doctor func(ctx context.Context, configPath string) api.DoctorReport
	// ConfigCheck validates a configuration file (daemon.ConfigCommand,
	// called with "check" FILE); nil leaves `earshot config check` out.
	ConfigCheck func(stdout, stderr io.Writer, args []string) error
}

// OfflineStore works on a stopped data directory or on backup files, with
// the key provider that a configuration file names.
type OfflineStore interface {
	// VerifyAudit checks the audit chain and the protected records of a
	// stopped data directory (o.Dir, "" for the configuration's) or of a
	// backup pair (o.ContentFile, o.KeysFile).
	VerifyAudit(ctx context.Context, configPath string, o store.OfflineOptions) (store.VerifyReport, error)
	// Reseal accepts the present state of a stopped data directory after
	// a deliberate offline change; actor and reason are audited.
	Reseal(ctx context.Context, configPath, dataDir, actor, reason string) (store.ResealReport, error)
}

// Main runs the command that args (the command line without the program
// name) names and returns the process's exit code: 0, 1 for a failure, 2
// for a usage error.
func Main(args []string, cmds []Command, stdio IO) int {
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	if len(args) == 0 {
		usage(stdio.Err, cmds)
		return 2
	}
	name, rest := args[0], args[1:]
	if name == "-h" || name == "--help" || name == "help" {
		if len(rest) == 0 {
			usage(stdio.Out, cmds)
			return 0
		}
		// earshot help CMD [ACTION] is CMD [ACTION] -h.
		name, rest = rest[0], append(rest[1:], "-h")
	}
	var cmd *Command
	for i := range cmds {
		if cmds[i].Name == name {
			cmd = &cmds[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stdio.Err, "earshot: unknown command %q\n\n", name)
		usage(stdio.Err, cmds)
		return 2
	}
	err := cmd.Run(stdio, rest)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprintln(stdio.Err, "earshot:", err)
		return 2
	default:
		fmt.Fprintln(stdio.Err, "earshot:", err)
		return 1
	}
}

func usage(w io.Writer, cmds []Command) {
	fmt.Fprintln(w, "usage: earshot COMMAND [ACTION] [flags] [arguments]\n\ncommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-9s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintln(w, "\nRun 'earshot COMMAND -h' for a command's actions and flags.")
}

// Commands returns the commands of this package.
func Commands(env Env) []Command {
	return []Command{
		{"version", "print the version (-v: modules; --check-data DIR: schema versions)", versionCommand(env)},
		{"packaging", "unit PATH | config | env | sbom VERSION DEPENDS: print the files a package installs", cmdPackaging},
		{"token", "create|list|revoke API tokens (calls the API)", tokenCommand(env).run},
		{"queue", "create|list|show|update|delete queues (calls the API)", queueCommand(env).run},
		{"user", "create|list|show|update|delete users (calls the API)", userCommand(env).run},
		{"audit", "verify|export|reseal the audit log (through the API; verify --data-dir or --content/--keys and reseal work offline)", auditCommand(env).run},
		{"key", "rotate the key-encryption key (calls the API)", keyCommand(env).run},
		{"backup", "FILE [--keys KEYFILE]: online backup of the content (and key) databases (calls the API)", backupCommand(env)},
		{"purge", "--engagement ID | --customer REF | --queue Q --from T --to T --reason R (calls the API)", purgeCommand(env)},
		{"restore", "FILE [--keys KEYFILE]: restore backups into a stopped data directory (offline)", restoreCommand(env)},
		{"plugin", "install FOLDER: install a plugin offline (the store's keys plugin, before the first start)", pluginCommand(env)},
		{"doctor", "check the installation and the daemon: ok, warn or fail with the fix (through the API, or here when it is stopped)", doctorCommand(env)},
		{"forecast", "run|staff|backtest|longterm|erlang: workforce tools on a CSV history (offline)", cmdForecast},
		{"wfm", "rosters, rules, schedules, intraday adjustments (calls the API)", wfmCommand(env).run},
		{"config", "check FILE | keygen FILE | export --key KEY | apply BUNDLE [--yes]: configuration file; signed site configuration bundles", configCommand(env).run},
	}
}

func isHelp(args []string) bool {
	return len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help")
}
