package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/user"
	"time"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/store"
)

func auditCommand(env Env) *group {
	return &group{name: "audit", env: env,
		summary: "Check and export the audit log: every read of customer content and every admin change, hash-chained.",
		actions: []action{
			{name: "verify", summary: "verify the audit log's hash chain and the protected records; the first broken entry or record is named. Through the API, or offline on a stopped data directory (--data-dir) or a backup pair (--content, --keys)", setup: func(fs *flag.FlagSet) func(*call) error {
				dataDir := fs.String("data-dir", "", "verify this stopped data directory instead of asking the daemon (the key provider comes from --config)")
				content := fs.String("content", "", "verify a content backup file offline (with --keys)")
				keys := fs.String("keys", "", "the key backup file taken with --content")
				return func(c *call) error {
					if c.given("data-dir") || c.given("content") || c.given("keys") {
						if (*content == "") != (*keys == "") {
							return usageErr("audit verify: --content and --keys name a backup pair: give both")
						}
						if c.env.Offline == nil {
							return errors.New("offline verification is not available in this build")
						}
						rep, err := c.env.Offline.VerifyAudit(context.Background(), c.cf.config, store.OfflineOptions{Dir: *dataDir, ContentFile: *content, KeysFile: *keys})
						if err != nil {
							return fmt.Errorf("audit log or records broken, or unreadable: %w", err)
						}
						printVerify(c.Out, api.AuditReport{Entries: rep.Entries, FirstSeq: rep.FirstSeq, LastSeq: rep.LastSeq, AnchorSeq: rep.AnchorSeq,
							Sealed: rep.Sealed, Records: rep.Records, Counter: rep.Counter, Checkpoint: rep.Checkpoint})
						return nil
					}
					var out api.AuditVerify
					if err := apiCall(c, "GET", "/api/v1/audit/verify", nil, &out); err != nil {
						return fmt.Errorf("audit chain broken or unreadable: %w (with the daemon stopped, verify its files with --data-dir)", err)
					}
					printVerify(c.Out, out.Report)
					return nil
				}
			}},
			{name: "reseal", offline: true, summary: "accept the present state of a stopped data directory after a deliberate change made outside the daemon (audited; refused if an audit entry was edited)", setup: func(fs *flag.FlagSet) func(*call) error {
				dataDir := fs.String("data-dir", "", "the stopped data directory (default: from --config)")
				reason := fs.String("reason", "", "why the present state is accepted (required; audited)")
				return func(c *call) error {
					if *reason == "" {
						return usageErr("audit reseal needs --reason")
					}
					if c.env.Offline == nil {
						return errors.New("reseal is not available in this build")
					}
					actor := "cli"
					if u, err := user.Current(); err == nil {
						actor = "cli:" + u.Username
					}
					rep, err := c.env.Offline.Reseal(context.Background(), c.cf.config, *dataDir, actor, *reason)
					if err != nil {
						return err
					}
					for _, a := range rep.Accepted {
						fmt.Fprintln(c.Out, "accepted:", a)
					}
					fmt.Fprintf(c.Out, "resealed: %d audit entries verified, %d protected records sealed, counter %d\n", rep.Entries, rep.Records, rep.Counter)
					return nil
				}
			}},
			{name: "export", summary: "write the audit entries as JSON lines to standard output", setup: func(fs *flag.FlagSet) func(*call) error {
				from := fs.String("from", "", "entries at or after this RFC 3339 time")
				to := fs.String("to", "", "entries before this RFC 3339 time")
				actor := fs.String("actor", "", "entries of this user")
				eng := fs.String("engagement", "", "entries about this engagement")
				return func(c *call) error {
					q := url.Values{}
					for k, v := range map[string]string{"from": *from, "to": *to, "actor": *actor, "engagement": *eng} {
						if v != "" {
							q.Set(k, v)
						}
					}
					cl, err := c.api()
					if err != nil {
						return err
					}
					_, err = cl.stream("GET", "/api/v1/audit/export?"+q.Encode(), c.Out)
					return err
				}
			}},
		}}
}

// printVerify prints a verified audit report in one line.
func printVerify(w io.Writer, r api.AuditReport) {
	fmt.Fprintf(w, "audit chain ok: %d entries, seq %d..%d", r.Entries, r.FirstSeq, r.LastSeq)
	if r.Sealed {
		fmt.Fprintf(w, "; %d protected records and the chain's ends match their seal (counter %d, checkpoint: %s)", r.Records, r.Counter, r.Checkpoint)
	}
	fmt.Fprintln(w)
}

func keyCommand(env Env) *group {
	return &group{name: "key", env: env,
		summary: "Manage the key-encryption key (KEK) that wraps every engagement's data key.",
		actions: []action{
			{name: "rotate", summary: "re-wrap every data key under a new KEK version (resumable after an interruption)", setup: func(fs *flag.FlagSet) func(*call) error {
				var req api.RotateRequest
				fs.BoolVar(&req.DestroyOld, "destroy-old", false, "destroy older key versions afterwards (old key backups become useless)")
				return func(c *call) error {
					var res api.RotateResult
					if err := apiCall(c, "POST", "/api/v1/keys/rotate", req, &res); err != nil {
						return err
					}
					fmt.Fprintf(c.Out, "key-encryption key rotated from version %d to %d: %d data keys re-wrapped", res.From, res.To, res.Rewrapped)
					if len(res.Destroyed) > 0 {
						fmt.Fprintf(c.Out, "; destroyed versions %v", res.Destroyed)
					}
					fmt.Fprintln(c.Out)
					return nil
				}
			}},
		}}
}

// backupCommand writes online backups through the API: the content
// database to FILE and, with --keys, the key store to another file. Keep
// them apart.
func backupCommand(env Env) func(IO, []string) error {
	a := action{args: "FILE", nargs: 1,
		summary: "write an online backup of the content database to FILE (and of the key store to --keys KEYFILE; keep them apart)",
		setup: func(fs *flag.FlagSet) func(*call) error {
			keys := fs.String("keys", "", "also write the key store backup to this file")
			return func(c *call) error {
				cl, err := c.api()
				if err != nil {
					return err
				}
				if err := backupTo(c.Out, cl, c.args[0], "/api/v1/backup/content"); err != nil {
					return err
				}
				if *keys != "" {
					return backupTo(c.Out, cl, *keys, "/api/v1/backup/keys")
				}
				return nil
			}
		}}
	return func(stdio IO, args []string) error { return a.run(stdio, env, "backup", args) }
}

// backupTo streams route into path through a temporary file.
func backupTo(out io.Writer, cl *client, path, route string) error {
	tmp := path + ".partial"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	n, err := cl.stream("GET", route, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s: %d bytes\n", path, n)
	return nil
}

// restoreCommand puts backups into a stopped data directory.
func restoreCommand(env Env) func(IO, []string) error {
	a := action{args: "FILE", nargs: 1, offline: true,
		summary: "restore a content backup (and a key store backup with --keys) into the data directory of a stopped daemon",
		setup: func(fs *flag.FlagSet) func(*call) error {
			dataDir := fs.String("data-dir", "", "data directory (default: from the configuration)")
			keys := fs.String("keys", "", "key store backup to restore as well")
			return func(c *call) error {
				dir := *dataDir
				if dir == "" {
					site, err := c.cf.site(c.env)
					if err != nil {
						return err
					}
					dir = site.DataDir
				}
				restore := func(path string, fn func(string, io.Reader) error) error {
					f, err := os.Open(path)
					if err != nil {
						return err
					}
					defer f.Close()
					if err := fn(dir, f); err != nil {
						return fmt.Errorf("restore %s: %w (is the daemon stopped?)", path, err)
					}
					return nil
				}
				if err := restore(c.args[0], store.RestoreContent); err != nil {
					return err
				}
				if *keys != "" {
					if err := restore(*keys, store.RestoreKeys); err != nil {
						return err
					}
				}
				fmt.Fprintf(c.Out, "restored into %s; start the daemon to use it\n", dir)
				return nil
			}
		}}
	return func(stdio IO, args []string) error { return a.run(stdio, env, "restore", args) }
}

func purgeCommand(env Env) func(IO, []string) error {
	a := action{
		summary: "purge engagements (crypto-shredding): one engagement, a customer's, or a queue's started in [--from, --to); audited with --reason",
		setup: func(fs *flag.FlagSet) func(*call) error {
			var req api.PurgeRequest
			fs.StringVar(&req.Engagement, "engagement", "", "purge one engagement")
			fs.StringVar(&req.CustomerRef, "customer", "", "purge every engagement of a customer reference (erasure request)")
			fs.StringVar(&req.Queue, "queue", "", "purge a queue's engagements started in [--from, --to)")
			from := fs.String("from", "", "with --queue: RFC 3339 start")
			to := fs.String("to", "", "with --queue: RFC 3339 end")
			fs.StringVar(&req.Reason, "reason", "", "why (required; audited)")
			return func(c *call) error {
				for _, tf := range []struct {
					name, v string
					dst     *time.Time
				}{{"from", *from, &req.From}, {"to", *to, &req.To}} {
					if tf.v != "" {
						t, err := time.Parse(time.RFC3339, tf.v)
						if err != nil {
							return usageErr("--%s: %v", tf.name, err)
						}
						*tf.dst = t
					}
				}
				if req.Reason == "" {
					return usageErr("purge needs --reason")
				}
				var res api.PurgeResult
				if err := apiCall(c, "POST", "/api/v1/purge", req, &res); err != nil {
					return err
				}
				fmt.Fprintf(c.Out, "purged %d engagements (%d segments, %d results); %d under legal hold kept\n", res.Engagements, res.Segments, res.Results, res.Held)
				return nil
			}
		}}
	return func(stdio IO, args []string) error { return a.run(stdio, env, "purge", args) }
}
