package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/kardianos/service"

	"github.com/earshot/earshot/packaging"
)

// Command is one subcommand of the earshot binary.
type Command struct {
	Name  string
	Usage string
	Run   func(args []string) error
}

// ErrUsage marks an error in the command line; main exits 2 for it.
var ErrUsage = errors.New("usage error")

// Commands lists the subcommands, sorted by name.
func Commands() []Command {
	cs := []Command{
		{"serve", "run the daemon in the foreground", cmdServe},
		{"analyze", "FILE: transcribe a WAV file (or read a JSON transcript) offline and print it", cmdAnalyze},
		{"service", "install|uninstall|start|stop|status the OS service", cmdService},
		{"version", "print the version", cmdVersion},
		{"packaging", "unit PATH | config | env: print the files a package installs", cmdPackaging},
		{"config", "check FILE: validate a configuration file", cmdConfig},
		{"token", "create|list|revoke API tokens (calls the API)", cmdToken},
		{"queue", "create|list|delete queues (calls the API)", cmdQueue},
		{"user", "create|update|list|delete users (calls the API)", cmdUser},
		{"audit", "verify|export the audit log (calls the API); verify --data-dir, --content/--keys or reseal: offline", cmdAudit},
		{"backup", "FILE [--keys KEYFILE]: online backup of the content (and key) databases", cmdBackup},
		{"restore", "FILE [--keys KEYFILE]: restore backups into a stopped data directory", cmdRestore},
		{"key", "rotate: re-wrap every data key under a new key-encryption key", cmdKey},
		{"purge", "--engagement ID | --customer REF | --queue Q --from T --to T --reason R", cmdPurge},
		{"forecast", "run|staff|backtest|longterm|erlang: workforce tools on a CSV history (offline)", cmdForecast},
		{"plugin", "install FOLDER: install a plugin offline (the store's keys plugin, before the first start)", cmdPlugin},
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return cs
}

// Lookup finds a subcommand by name.
func Lookup(name string) (Command, bool) {
	for _, c := range Commands() {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

// Usage writes the list of subcommands.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "usage: earshot COMMAND [flags]\n\ncommands:")
	for _, c := range Commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.Name, c.Usage)
	}
	fmt.Fprintln(w, "\nRun 'earshot COMMAND -h' for a command's flags.")
}

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

func cmdVersion(args []string) error {
	fmt.Println("earshot", Version)
	return nil
}

func cmdConfig(args []string) error {
	if len(args) != 2 || args[0] != "check" {
		return usageErr("earshot config check FILE")
	}
	cfg, err := LoadConfig(args[1], false)
	if err != nil {
		return err
	}
	fmt.Printf("%s: ok (listen %s, tls %s, data_dir %s)\n", args[1], cfg.Listen, cfg.TLS.Mode, cfg.DataDir)
	return nil
}

// program runs the daemon under kardianos/service: Start returns at once,
// Stop cancels and waits.
type program struct {
	cfg    Config
	cancel context.CancelFunc
	done   chan error
}

func (p *program) Start(service.Service) error {
	d, err := New(p.cfg, p.cfg.logger())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() { p.done <- d.Run(ctx) }()
	return nil
}

func (p *program) Stop(service.Service) error {
	p.cancel()
	return <-p.done
}

func cmdServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := fs.String("config", DefaultConfigPath, "configuration file (missing default file: embedded defaults)")
	if err := fs.Parse(args); err != nil {
		return usageErr("%v", err)
	}
	underManager := !service.Interactive()
	cfg, err := LoadConfig(*cfgPath, underManager)
	if err != nil {
		return err
	}
	if underManager {
		// systemd (or another service manager) runs us: let kardianos/service
		// drive Start and Stop on its signals.
		svc, err := newServiceFor(&program{cfg: cfg})
		if err != nil {
			return err
		}
		return svc.Run()
	}
	d, err := New(cfg, cfg.logger())
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return d.Run(ctx)
}

// cmdPackaging prints the embedded packaging files, so that the package
// build uses exactly what `service install` uses.
func cmdPackaging(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "unit":
		fmt.Print(packaging.RenderUnit(args[1]))
	case len(args) == 1 && args[0] == "config":
		fmt.Print(packaging.DefaultConfig)
	case len(args) == 1 && args[0] == "env":
		fmt.Print(packaging.DefaultEnv)
	default:
		return usageErr("earshot packaging unit BINARY_PATH | config | env")
	}
	return nil
}
