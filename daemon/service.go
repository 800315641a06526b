package daemon

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"

	"github.com/kardianos/service"

	"github.com/earshot/earshot/packaging"
)

// ServiceName is the OS service's name.
const ServiceName = "earshot"

func newService() (service.Service, error) { return newServiceFor(&program{}) }

func newServiceFor(p *program) (service.Service, error) {
	return service.New(p, &service.Config{
		Name:        ServiceName,
		DisplayName: "Earshot",
		Description: "Earshot contact-centre AI appliance",
		Arguments:   []string{"serve", "--config", DefaultConfigPath},
		Option: service.KeyValue{
			"SystemdScript": packaging.SystemdUnit,
		},
	})
}

// ServiceCommand is `earshot service ACTION`: it installs, removes, starts,
// stops or shows the OS service.
func ServiceCommand(stdout, stderr io.Writer, args []string) error {
	const usage = "earshot service install|uninstall|start|stop|restart|status"
	if isHelp(args) {
		fmt.Fprintf(stdout, "usage: %s\n\n"+
			"  install    create user earshot, %s and the systemd unit (as root)\n"+
			"  uninstall  stop and remove the unit; the data and configuration are kept\n"+
			"  start, stop, restart, status\n", usage, DefaultConfigPath)
		return flag.ErrHelp
	}
	if len(args) != 1 {
		return usageErr("%s", usage)
	}
	svc, err := newService()
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	switch args[0] {
	case "install":
		if err := prepareServiceHost(); err != nil {
			return err
		}
		if err := svc.Install(); err != nil {
			return fmt.Errorf("service install: %w", err)
		}
		fmt.Fprintln(stdout, "installed; start it with: earshot service start")
	case "uninstall":
		_ = svc.Stop()
		if err := svc.Uninstall(); err != nil {
			return fmt.Errorf("service uninstall: %w", err)
		}
		fmt.Fprintln(stdout, "uninstalled; the data in /var/lib/earshot and /etc/earshot are kept")
	case "start", "stop", "restart":
		if err := service.Control(svc, args[0]); err != nil {
			return fmt.Errorf("service %s: %w", args[0], err)
		}
	case "status":
		st, err := svc.Status()
		if err != nil {
			return fmt.Errorf("service status: %w", err)
		}
		fmt.Fprintln(stdout, map[service.Status]string{
			service.StatusRunning: "running", service.StatusStopped: "stopped", service.StatusUnknown: "unknown",
		}[st])
	default:
		return usageErr("unknown service action %q; want install|uninstall|start|stop|restart|status", args[0])
	}
	return nil
}

// prepareServiceHost creates the service's system user and its default
// configuration, leaving existing ones alone.
func prepareServiceHost() error {
	if os.Geteuid() != 0 {
		return errors.New("service install must run as root")
	}
	if _, err := user.Lookup("earshot"); err != nil {
		out, err := exec.Command("useradd", "--system", "--user-group", "--home-dir", "/var/lib/earshot",
			"--no-create-home", "--shell", "/usr/sbin/nologin", "earshot").CombinedOutput()
		if err != nil {
			return fmt.Errorf("create user earshot: %v: %s", err, out)
		}
	}
	if err := os.MkdirAll("/etc/earshot", 0o750); err != nil {
		return err
	}
	if _, err := os.Stat(DefaultConfigPath); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(DefaultConfigPath, []byte(packaging.DefaultConfig), 0o640); err != nil { // #nosec G306 -- the packaged default configuration, readable by the service group only
			return err
		}
	}
	if _, err := os.Stat("/etc/default/earshot"); errors.Is(err, os.ErrNotExist) {
		_ = os.WriteFile("/etc/default/earshot", []byte(packaging.DefaultEnv), 0o644) // #nosec G306 -- the service's environment defaults, no secrets
	}
	return nil
}
