package cli

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/earshot/earshot/packaging"
	"github.com/earshot/earshot/plugins"
)

// pluginCommand installs a plugin into the plugin directory without the
// daemon. Plugins are normally installed through the API; the store's
// keys plugin has to be in place before the daemon can open the store.
func pluginCommand(env Env) func(IO, []string) error {
	g := &group{name: "plugin", env: env,
		summary: "Install a plugin offline. Plugins are normally installed through the API (POST /api/v1/plugins);\nthe store's keys plugin has to be in place before the daemon first starts.",
		actions: []action{
			{name: "install", args: "FOLDER", nargs: 1, offline: true,
				summary: "copy FOLDER (binary + manifest.json) into the plugin directory and print its SHA-256 to pin",
				setup: func(fs *flag.FlagSet) func(*call) error {
					return func(c *call) error {
						site, err := c.cf.site(c.env)
						if err != nil {
							return err
						}
						src, err := filepath.Abs(c.args[0])
						if err != nil {
							return err
						}
						m, err := plugins.InstallFolder(site.PluginDir, src)
						if err != nil {
							return err
						}
						fmt.Fprintf(c.Out, "installed %s %s into %s\nsha256 %s\n", m.Name, m.Version, filepath.Join(site.PluginDir, m.Name), m.SHA256)
						fmt.Fprintf(c.Out, "as the store's key provider:\n  store:\n    keys:\n      provider: plugin\n      plugin:\n        name: %s\n        sha256: %s\n", m.Name, m.SHA256)
						return nil
					}
				}},
		}}
	return g.run
}

// cmdPackaging prints the embedded packaging files, so that the package
// build uses exactly what `service install` uses.
func cmdPackaging(stdio IO, args []string) error {
	const usage = "earshot packaging unit BINARY_PATH | config | env: print the systemd unit for a binary path, the default configuration, or the default environment file"
	switch {
	case isHelp(args):
		fmt.Fprintln(stdio.Out, "usage:", usage)
		return flag.ErrHelp
	case len(args) == 2 && args[0] == "unit":
		fmt.Fprint(stdio.Out, packaging.RenderUnit(args[1]))
	case len(args) == 1 && args[0] == "config":
		fmt.Fprint(stdio.Out, packaging.DefaultConfig)
	case len(args) == 1 && args[0] == "env":
		fmt.Fprint(stdio.Out, packaging.DefaultEnv)
	default:
		return usageErr("%s", usage)
	}
	return nil
}
