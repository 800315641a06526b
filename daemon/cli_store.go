package daemon

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/earshot/earshot/store"
)

// stream calls the API and copies a successful answer's body to w.
func (c *apiClient) stream(method, path string, w io.Writer) (int64, error) {
	req, err := http.NewRequest(method, strings.TrimRight(c.base, "/")+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	hc := *c.http
	hc.Timeout = 0 // backups of large databases take as long as they take
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("call the API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var p Problem
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(data, &p) == nil && p.Detail != "" {
			return 0, fmt.Errorf("%s %s: %d %s", method, path, p.Status, p.Detail)
		}
		return 0, fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return io.Copy(w, resp.Body)
}

// offlineAudit reports whether an audit command works on files rather than
// through the API: reseal, and verify of a data directory or backup pair.
func offlineAudit(args []string) bool {
	if len(args) > 0 && args[0] == "reseal" {
		return true
	}
	for _, a := range args {
		for _, f := range []string{"data-dir", "content", "keys"} {
			if a == "-"+f || a == "--"+f || strings.HasPrefix(a, "-"+f+"=") || strings.HasPrefix(a, "--"+f+"=") {
				return len(args) > 0 && args[0] == "verify"
			}
		}
	}
	return false
}

// cmdAuditOffline verifies a stopped data directory or a backup pair, or
// reseals a stopped data directory, with the configured key provider.
func cmdAuditOffline(args []string) error {
	action, rest := args[0], args[1:]
	fs := flag.NewFlagSet("audit "+action, flag.ContinueOnError)
	cfgPath := fs.String("config", DefaultConfigPath, "configuration file: the key provider and the data directory")
	dataDir := fs.String("data-dir", "", "the stopped data directory (default: from the configuration)")
	var content, keys, reason *string
	if action == "verify" {
		content = fs.String("content", "", "verify a content backup file (with --keys)")
		keys = fs.String("keys", "", "the key backup file taken with the content backup")
	} else {
		reason = fs.String("reason", "", "why the present state is accepted (required; audited)")
	}
	if _, err := parseArgs(fs, rest); err != nil {
		return err
	}
	cfg, err := LoadConfig(*cfgPath, false)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if action == "reseal" {
		if *reason == "" {
			return usageErr("audit reseal needs --reason")
		}
		actor := "cli"
		if u, err := user.Current(); err == nil {
			actor = "cli:" + u.Username
		}
		rep, err := ResealOffline(ctx, cfg, *dataDir, actor, *reason)
		if err != nil {
			return err
		}
		for _, a := range rep.Accepted {
			fmt.Println("accepted:", a)
		}
		fmt.Printf("resealed: %d audit entries verified, %d protected records sealed, counter %d\n", rep.Entries, rep.Records, rep.Counter)
		return nil
	}
	if (*content == "") != (*keys == "") {
		return usageErr("audit verify: --content and --keys name a backup pair: give both")
	}
	rep, err := VerifyAuditOffline(ctx, cfg, store.OfflineOptions{Dir: *dataDir, ContentFile: *content, KeysFile: *keys})
	if err != nil {
		return fmt.Errorf("audit log or records broken, or unreadable: %w", err)
	}
	printVerify(rep)
	return nil
}

func printVerify(r store.VerifyReport) {
	fmt.Printf("audit chain ok: %d entries, seq %d..%d", r.Entries, r.FirstSeq, r.LastSeq)
	if r.Sealed {
		fmt.Printf("; %d protected records and the chain's ends match their seal (counter %d, checkpoint: %s)", r.Records, r.Counter, r.Checkpoint)
	}
	fmt.Println()
}

func cmdAudit(args []string) error {
	if offlineAudit(args) {
		return cmdAuditOffline(args)
	}
	var from, to, actor, eng *string
	action, _, c, err := adminArgs("audit", "verify|export", args, func(fs *flag.FlagSet) {
		from = fs.String("from", "", "export: entries at or after this RFC 3339 time")
		to = fs.String("to", "", "export: entries before this RFC 3339 time")
		actor = fs.String("actor", "", "export: entries of this user")
		eng = fs.String("engagement", "", "export: entries about this engagement")
	})
	if err != nil {
		return err
	}
	switch action {
	case "verify":
		var out struct {
			OK     bool               `json:"ok"`
			Report store.VerifyReport `json:"report"`
		}
		if err := c.do("GET", "/api/v1/audit/verify", nil, &out); err != nil {
			return fmt.Errorf("audit chain broken or unreadable: %w (with the daemon stopped, verify its files with --data-dir)", err)
		}
		printVerify(out.Report)
	case "export":
		q := url.Values{}
		for k, v := range map[string]string{"from": *from, "to": *to, "actor": *actor, "engagement": *eng} {
			if v != "" {
				q.Set(k, v)
			}
		}
		_, err := c.stream("GET", "/api/v1/audit/export?"+q.Encode(), os.Stdout)
		return err
	default:
		return usageErr("unknown audit action %q", action)
	}
	return nil
}

// cmdBackup writes online backups through the API: the content database to
// FILE and, with --keys, the key store to another file. Keep them apart.
func cmdBackup(args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	cf := addClientFlags(fs)
	keys := fs.String("keys", "", "also write the key store backup to this file (keep it apart from the content backup)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("earshot backup FILE [--keys KEYFILE]")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	write := func(path, route string) error {
		tmp := path + ".partial"
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		n, err := c.stream("GET", route, f)
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
		fmt.Printf("%s: %d bytes\n", path, n)
		return nil
	}
	if err := write(pos[0], "/api/v1/backup/content"); err != nil {
		return err
	}
	if *keys != "" {
		return write(*keys, "/api/v1/backup/keys")
	}
	return nil
}

// cmdRestore puts backups into a stopped data directory.
func cmdRestore(args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	cfgPath := fs.String("config", DefaultConfigPath, "configuration file, to find the data directory")
	dataDir := fs.String("data-dir", "", "data directory (default: from the configuration)")
	keys := fs.String("keys", "", "key store backup to restore as well")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("earshot restore FILE [--keys KEYFILE] [--data-dir DIR]")
	}
	dir := *dataDir
	if dir == "" {
		cfg, err := LoadConfig(*cfgPath, false)
		if err != nil {
			return err
		}
		dir = cfg.DataDir
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
	if err := restore(pos[0], store.RestoreContent); err != nil {
		return err
	}
	if *keys != "" {
		if err := restore(*keys, store.RestoreKeys); err != nil {
			return err
		}
	}
	fmt.Printf("restored into %s; start the daemon to use it\n", dir)
	return nil
}

func cmdKey(args []string) error {
	var destroy *bool
	action, _, c, err := adminArgs("key", "rotate", args, func(fs *flag.FlagSet) {
		destroy = fs.Bool("destroy-old", false, "destroy older key versions afterwards (old key backups become useless)")
	})
	if err != nil {
		return err
	}
	if action != "rotate" {
		return usageErr("unknown key action %q", action)
	}
	var res store.RotateResult
	if err := c.do("POST", "/api/v1/keys/rotate", map[string]bool{"destroy_old": *destroy}, &res); err != nil {
		return err
	}
	fmt.Printf("key-encryption key rotated from version %d to %d: %d data keys re-wrapped", res.From, res.To, res.Rewrapped)
	if len(res.Destroyed) > 0 {
		fmt.Printf("; destroyed versions %v", res.Destroyed)
	}
	fmt.Println()
	return nil
}

func cmdPurge(args []string) error {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	cf := addClientFlags(fs)
	var req purgeRequest
	fs.StringVar(&req.Engagement, "engagement", "", "purge one engagement")
	fs.StringVar(&req.CustomerRef, "customer", "", "purge every engagement of a customer reference (erasure request)")
	fs.StringVar(&req.Queue, "queue", "", "purge a queue's engagements started in [--from, --to)")
	from := fs.String("from", "", "with --queue: RFC 3339 start")
	to := fs.String("to", "", "with --queue: RFC 3339 end")
	fs.StringVar(&req.Reason, "reason", "", "why (required; audited)")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
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
	c, err := cf.client()
	if err != nil {
		return err
	}
	var res store.PurgeResult
	if err := c.do("POST", "/api/v1/purge", req, &res); err != nil {
		return err
	}
	fmt.Printf("purged %d engagements (%d segments, %d results); %d under legal hold kept\n", res.Engagements, res.Segments, res.Results, res.Held)
	return nil
}
