package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/kardianos/service"
)

// The daemon's own subcommands of the earshot binary (serve, service,
// config, analyze): cmd/earshot lists them beside the admin commands of
// cmd/earshot/cli. Each takes the arguments after its name; a mistake on
// the command line wraps ErrUsage, and -h answers flag.ErrHelp after
// printing the command's help.

// ErrUsage marks an error in the command line; main exits 2 for it.
var ErrUsage = errors.New("usage error")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

// parseFlags parses a command's flags; -h prints usage and the flags to
// stdout and returns flag.ErrHelp.
func parseFlags(stdout io.Writer, fs *flag.FlagSet, usage string, args []string) error {
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return err
	case err != nil:
		return usageErr("%v (earshot %s -h lists the flags)", err, fs.Name())
	}
	return nil
}

func isHelp(args []string) bool {
	return len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help")
}

// Site is where a client on this machine finds the daemon that a
// configuration file describes.
type Site struct {
	// API is the API's base URL, e.g. http://127.0.0.1:7080.
	API string
	// CACertFile is the certificate to trust for the API when the daemon
	// generates its own (tls: auto); empty otherwise.
	CACertFile string
	// DataDir is the data directory; AdminTokenFile the bootstrap admin
	// token in it.
	DataDir        string
	AdminTokenFile string
	// PluginDir is the plugin directory.
	PluginDir string
}

// LoadSite reads the configuration file at path (the embedded defaults if
// it is the default path and missing) and says where its daemon is.
func LoadSite(path string) (Site, error) {
	cfg, err := LoadConfig(path, false)
	if err != nil {
		return Site{}, err
	}
	s := Site{API: "http://" + cfg.Listen, DataDir: cfg.DataDir,
		AdminTokenFile: filepath.Join(cfg.DataDir, AdminTokenFile), PluginDir: pluginHostConfig(cfg).Dir}
	if cfg.TLS.Mode != "off" {
		s.API = "https://" + cfg.Listen
	}
	if cfg.TLS.Mode == "auto" {
		s.CACertFile = filepath.Join(cfg.DataDir, "tls", "cert.pem")
	}
	return s, nil
}

// ConfigCommand is `earshot config check FILE`.
func ConfigCommand(stdout, stderr io.Writer, args []string) error {
	const usage = "earshot config check FILE: validate a configuration file and print its main settings"
	if isHelp(args) {
		fmt.Fprintln(stdout, "usage:", usage)
		return flag.ErrHelp
	}
	if len(args) != 2 || args[0] != "check" {
		return usageErr("%s", usage)
	}
	cfg, err := LoadConfig(args[1], false)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (listen %s, tls %s, data_dir %s)\n", args[1], cfg.Listen, cfg.TLS.Mode, cfg.DataDir)
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

// Serve is `earshot serve`: it runs the daemon in the foreground, or under
// the service manager that started it, until SIGINT or SIGTERM.
func Serve(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := fs.String("config", DefaultConfigPath, "configuration file (missing default file: embedded defaults)")
	if err := parseFlags(stdout, fs, "earshot serve [--config FILE]", args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErr("serve takes no arguments, got %q", fs.Args())
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

// parseInterleaved parses flags that may come before, between or after the
// positional arguments (earshot analyze call.wav --json) and returns the
// positional ones.
func parseInterleaved(stdout io.Writer, fs *flag.FlagSet, usage string, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(stdout, fs, usage, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
