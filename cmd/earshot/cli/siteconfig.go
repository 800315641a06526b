package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/store/bundle"
)

// configCommand is `earshot config`: the configuration file's check (the
// daemon's, env.ConfigCheck) and the site configuration bundles that keep
// every box of a fleet on the same settings: keygen makes the site's
// signing key, export signs one box's configuration with it, apply shows
// and applies a bundle on another box.
func configCommand(env Env) *group {
	return &group{name: "config", env: env,
		summary: "Validate a configuration file; export a box's site configuration (queues, users without tokens, feature controls, redaction policies, analytics and quality settings, bots, scorecards, knowledge base) as a bundle signed with the site's key, and apply such a bundle to another box. Boxes apply only bundles signed by a key listed in their site_config.trusted_keys.",
		actions: []action{
			{name: "check", args: "FILE", nargs: 1, offline: true, summary: "validate a configuration file and print its main settings",
				setup: func(fs *flag.FlagSet) func(*call) error {
					return func(c *call) error {
						if env.ConfigCheck == nil {
							return errors.New("this binary cannot check configuration files")
						}
						return env.ConfigCheck(c.Out, c.Err, []string{"check", c.args[0]})
					}
				}},
			{name: "keygen", args: "FILE", nargs: 1, offline: true, summary: "make a site signing key (ed25519): FILE holds the private key (0600; keep it off the boxes), FILE.pub the public key every box lists in site_config.trusted_keys",
				setup: func(fs *flag.FlagSet) func(*call) error {
					return func(c *call) error {
						priv, pub, err := bundle.GenerateKey()
						if err != nil {
							return err
						}
						path := c.args[0]
						if err := writeNew(path, priv, 0o600); err != nil {
							return err
						}
						if err := writeNew(path+".pub", pub, 0o644); err != nil {
							os.Remove(path)
							return err
						}
						k, _ := bundle.ParsePublicKey(pub)
						fmt.Fprintf(c.Out, "private key %s, public key %s.pub (key id %s)\n", path, path, bundle.KeyID(k))
						return nil
					}
				}},
			{name: "export", summary: "read the daemon's site configuration and write it signed with the site's key",
				setup: func(fs *flag.FlagSet) func(*call) error {
					keyFile := fs.String("key", "", "the site's private key (earshot config keygen) (required)")
					out := fs.String("o", "", "write the bundle to this file (default: standard output)")
					return func(c *call) error {
						if *keyFile == "" {
							return usageErr("config export: --key is required")
						}
						data, err := os.ReadFile(*keyFile)
						if err != nil {
							return fmt.Errorf("--key: %w", err)
						}
						key, err := bundle.ParsePrivateKey(data)
						if err != nil {
							return fmt.Errorf("--key %s: %w", *keyFile, err)
						}
						cl, err := c.api()
						if err != nil {
							return err
						}
						var contents bundle.Contents
						if err := cl.do("GET", "/api/v1/config/bundle", nil, &contents); err != nil {
							return err
						}
						signed, err := bundle.Sign(contents, key)
						if err != nil {
							return err
						}
						doc, err := json.MarshalIndent(signed, "", "  ")
						if err != nil {
							return err
						}
						doc = append(doc, '\n')
						if *out == "" {
							_, err = c.Out.Write(doc)
							return err
						}
						if err := os.WriteFile(*out, doc, 0o600); err != nil { // #nosec G703 -- the administrator names the output file on their own command line
							return err
						}
						fmt.Fprintf(c.Err, "%s: %d queues, %d users, %d settings, %d bots, %d scorecards, %d articles; sha256 %s, key %s\n",
							*out, len(contents.Queues), len(contents.Users), len(contents.Settings), len(contents.Bots),
							len(contents.Scorecards), len(contents.Articles), signed.SHA256(), signed.KeyID)
						return nil
					}
				}},
			{name: "apply", args: "FILE", nargs: 1, summary: "show what a signed bundle changes on the daemon (a dry run, the default); --yes applies it",
				setup: func(fs *flag.FlagSet) func(*call) error {
					yes := fs.Bool("yes", false, "apply the changes (without it, only list them)")
					dry := fs.Bool("dry-run", false, "only list the changes (the default; overrides --yes)")
					prune := fs.Bool("prune", false, "also delete the daemon's queues, users, bots and articles that the bundle lacks")
					asJSON := fs.Bool("json", false, "print the plan as JSON")
					return func(c *call) error {
						data, err := os.ReadFile(c.args[0])
						if err != nil {
							return err
						}
						var signed bundle.Signed
						if err := json.Unmarshal(data, &signed); err != nil {
							return fmt.Errorf("%s: not a bundle: %w", c.args[0], err)
						}
						cl, err := c.api()
						if err != nil {
							return err
						}
						cl.http.Timeout = 0 // large knowledge bases take as long as they take
						path := fmt.Sprintf("/api/v1/config/bundle/apply?dry_run=%t&prune=%t", *dry || !*yes, *prune)
						var plan api.SiteConfigPlan
						if err := cl.do("POST", path, signed, &plan); err != nil {
							return err
						}
						if *asJSON {
							enc := json.NewEncoder(c.Out)
							enc.SetIndent("", "  ")
							return enc.Encode(plan)
						}
						printPlan(c.Out, plan)
						return nil
					}
				}},
		}}
}

// printPlan prints the changes one per line, then what happened.
func printPlan(w io.Writer, plan api.SiteConfigPlan) {
	changes := 0
	for _, ch := range plan.Changes {
		fmt.Fprintln(w, ch.String())
		if ch.Op != bundle.OpKeep {
			changes++
		}
	}
	switch {
	case changes == 0:
		fmt.Fprintf(w, "bundle %.12s (key %s): nothing to change\n", plan.BundleSHA256, plan.KeyID)
	case plan.DryRun:
		fmt.Fprintf(w, "bundle %.12s (key %s): %d changes to make; run again with --yes to apply them\n", plan.BundleSHA256, plan.KeyID, changes)
	default:
		fmt.Fprintf(w, "bundle %.12s (key %s): %d changes applied\n", plan.BundleSHA256, plan.KeyID, plan.Applied)
	}
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
