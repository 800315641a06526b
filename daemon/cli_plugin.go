package daemon

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/earshot/earshot/plugins"
)

// cmdPlugin installs a plugin into the plugin directory without the
// daemon. Plugins are normally installed through the API; the store's
// keys plugin has to be in place before the daemon can open the store.
func cmdPlugin(args []string) error {
	fs := flag.NewFlagSet("plugin", flag.ContinueOnError)
	cfgPath := fs.String("config", DefaultConfigPath, "configuration file, to find the plugin directory")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "install" {
		return usageErr("earshot plugin install FOLDER [--config FILE]")
	}
	cfg, err := LoadConfig(*cfgPath, false)
	if err != nil {
		return err
	}
	src, err := filepath.Abs(pos[1])
	if err != nil {
		return err
	}
	dir := pluginHostConfig(cfg).Dir
	m, err := plugins.InstallFolder(dir, src)
	if err != nil {
		return err
	}
	fmt.Printf("installed %s %s into %s\nsha256 %s\n", m.Name, m.Version, filepath.Join(dir, m.Name), m.SHA256)
	fmt.Printf("as the store's key provider:\n  store:\n    keys:\n      provider: plugin\n      plugin:\n        name: %s\n        sha256: %s\n", m.Name, m.SHA256)
	return nil
}
