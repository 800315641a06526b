package daemon

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// apiClient is what the admin subcommands use to call a running daemon.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// clientFlags are the flags every admin subcommand takes.
type clientFlags struct {
	config    *string
	api       *string
	tokenFile *string
}

func addClientFlags(fs *flag.FlagSet) clientFlags {
	return clientFlags{
		config:    fs.String("config", DefaultConfigPath, "configuration file, to find the API address and data directory"),
		api:       fs.String("api", "", "API base URL (default: from the configuration)"),
		tokenFile: fs.String("token-file", "", "file holding an admin token (default: $EARSHOT_TOKEN, else <data_dir>/admin.token)"),
	}
}

func (f clientFlags) client() (*apiClient, error) {
	cfg, err := LoadConfig(*f.config, false)
	if err != nil {
		return nil, err
	}
	c := &apiClient{base: *f.api, http: &http.Client{Timeout: 30 * time.Second}}
	if c.base == "" {
		scheme := "http"
		if cfg.TLS.Mode != "off" {
			scheme = "https"
		}
		c.base = scheme + "://" + cfg.Listen
	}
	if cfg.TLS.Mode == "auto" {
		pem, err := os.ReadFile(filepath.Join(cfg.DataDir, "tls", "cert.pem"))
		if err == nil {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			c.http.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		}
	}
	switch {
	case *f.tokenFile != "":
		b, err := os.ReadFile(*f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		c.token = strings.TrimSpace(string(b))
	case os.Getenv("EARSHOT_TOKEN") != "":
		c.token = os.Getenv("EARSHOT_TOKEN")
	default:
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, AdminTokenFile))
		if err != nil {
			return nil, fmt.Errorf("no token: set EARSHOT_TOKEN or --token-file (%w)", err)
		}
		c.token = strings.TrimSpace(string(b))
	}
	return c, nil
}

// do calls the API and decodes a JSON answer into out (if not nil). A
// problem answer becomes an error carrying its detail.
func (c *apiClient) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, strings.TrimRight(c.base, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("call the API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode >= 300 {
		var p Problem
		if json.Unmarshal(data, &p) == nil && p.Status != 0 {
			msg := p.Detail
			if p.Field != "" {
				msg = "field " + p.Field + ": " + msg
			}
			return fmt.Errorf("%s %s: %d %s: %s", method, path, p.Status, p.Title, msg)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

func printTable(header []string, rows [][]string) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// parseArgs parses flags that may come before, between or after the
// positional arguments (earshot queue create billing --name Billing) and
// returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageErr("%v", err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func subcommand(name string, args []string, actions string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, usageErr("earshot %s %s [flags]", name, actions)
	}
	return args[0], args[1:], nil
}

// adminArgs parses an admin subcommand (earshot CMD ACTION [flags] [args]):
// flags declares the command's own flags beside the client flags; it
// returns the action, the positional arguments and an API client.
func adminArgs(cmd, actions string, args []string, flags func(fs *flag.FlagSet)) (action string, pos []string, c *apiClient, err error) {
	action, rest, err := subcommand(cmd, args, actions)
	if err != nil {
		return "", nil, nil, err
	}
	if !slices.Contains(strings.Split(actions, "|"), action) {
		return "", nil, nil, usageErr("unknown %s action %q; want %s", cmd, action, actions)
	}
	fs := flag.NewFlagSet(cmd+" "+action, flag.ContinueOnError)
	cf := addClientFlags(fs)
	flags(fs)
	if pos, err = parseArgs(fs, rest); err != nil {
		return "", nil, nil, err
	}
	c, err = cf.client()
	return action, pos, c, err
}

func cmdToken(args []string) error {
	var userID, name, expires *string
	action, pos, c, err := adminArgs("token", "create|list|revoke", args, func(fs *flag.FlagSet) {
		userID = fs.String("user", "", "create: the user the token acts as")
		name = fs.String("name", "", "create: a label for the token")
		expires = fs.String("expires", "", "create: lifetime such as 720h (default: none)")
	})
	if err != nil {
		return err
	}
	switch action {
	case "create":
		if *userID == "" {
			return usageErr("token create needs --user")
		}
		var t tokenView
		if err := c.do("POST", "/api/v1/tokens", tokenRequest{UserID: *userID, Name: *name, ExpiresIn: *expires}, &t); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "token %s created for %s; it is shown once:\n", t.ID, t.UserID)
		fmt.Println(t.Secret)
	case "list":
		var ts []tokenView
		if err := c.do("GET", "/api/v1/tokens", nil, &ts); err != nil {
			return err
		}
		var rows [][]string
		for _, t := range ts {
			state := "active"
			if !t.RevokedAt.IsZero() {
				state = "revoked"
			} else if !t.ExpiresAt.IsZero() && time.Now().After(t.ExpiresAt) {
				state = "expired"
			}
			rows = append(rows, []string{t.ID, t.UserID, t.Name, t.CreatedAt.Format(time.RFC3339), state})
		}
		printTable([]string{"ID", "USER", "NAME", "CREATED", "STATE"}, rows)
	case "revoke":
		if len(pos) != 1 {
			return usageErr("earshot token revoke TOKEN_ID")
		}
		return c.do("DELETE", "/api/v1/tokens/"+pos[0], nil, nil)
	default:
		return usageErr("unknown token action %q", action)
	}
	return nil
}

func cmdQueue(args []string) error {
	var name, desc *string
	action, pos, c, err := adminArgs("queue", "create|list|delete", args, func(fs *flag.FlagSet) {
		name = fs.String("name", "", "create: display name")
		desc = fs.String("description", "", "create: description")
	})
	if err != nil {
		return err
	}
	switch action {
	case "create":
		if len(pos) != 1 {
			return usageErr("earshot queue create ID [--name N]")
		}
		return c.do("POST", "/api/v1/queues", queueRequest{ID: pos[0], Name: *name, Description: *desc}, nil)
	case "list":
		var qs []struct{ ID, Name, Description string }
		if err := c.do("GET", "/api/v1/queues", nil, &qs); err != nil {
			return err
		}
		var rows [][]string
		for _, q := range qs {
			rows = append(rows, []string{q.ID, q.Name, q.Description})
		}
		printTable([]string{"ID", "NAME", "DESCRIPTION"}, rows)
	case "delete":
		if len(pos) != 1 {
			return usageErr("earshot queue delete ID")
		}
		return c.do("DELETE", "/api/v1/queues/"+pos[0], nil, nil)
	default:
		return usageErr("unknown queue action %q", action)
	}
	return nil
}

func cmdUser(args []string) error {
	var role, queues, display *string
	var licensed, disabled *bool
	action, pos, c, err := adminArgs("user", "create|update|list|delete", args, func(fs *flag.FlagSet) {
		role = fs.String("role", "", "create/update: admin, supervisor, agent, analyst, auditor or ingest")
		queues = fs.String("queues", "", "create/update: comma-separated queue IDs")
		display = fs.String("name", "", "create/update: display name")
		licensed = fs.Bool("licensed", false, "create/update: holds an expert-assist licence")
		disabled = fs.Bool("disabled", false, "update: disable the user")
	})
	if err != nil {
		return err
	}
	switch action {
	case "create", "update":
		if len(pos) != 1 {
			return usageErr("earshot user %s ID --role ROLE [--queues a,b] [--licensed]", action)
		}
		if *role == "" {
			return usageErr("user %s needs --role", action)
		}
		req := userRequest{ID: pos[0], Role: *role, Queues: splitList(*queues), DisplayName: *display, Licensed: *licensed, Disabled: *disabled}
		if action == "create" {
			return c.do("POST", "/api/v1/users", req, nil)
		}
		return c.do("PUT", "/api/v1/users/"+pos[0], req, nil)
	case "list":
		var us []struct {
			ID       string   `json:"id"`
			Role     string   `json:"role"`
			Queues   []string `json:"queues"`
			Licensed bool     `json:"licensed"`
			Disabled bool     `json:"disabled"`
		}
		if err := c.do("GET", "/api/v1/users", nil, &us); err != nil {
			return err
		}
		var rows [][]string
		for _, u := range us {
			rows = append(rows, []string{u.ID, u.Role, strings.Join(u.Queues, ","), fmt.Sprint(u.Licensed), fmt.Sprint(u.Disabled)})
		}
		printTable([]string{"ID", "ROLE", "QUEUES", "LICENSED", "DISABLED"}, rows)
	case "delete":
		if len(pos) != 1 {
			return usageErr("earshot user delete ID")
		}
		return c.do("DELETE", "/api/v1/users/"+pos[0], nil, nil)
	default:
		return usageErr("unknown user action %q", action)
	}
	return nil
}
