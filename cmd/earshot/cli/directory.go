package cli

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/earshot/earshot/daemon/api"
)

func queueCommand(env Env) *group {
	return &group{name: "queue", env: env,
		summary: "Manage queues through the API: a queue groups engagements, and users are scoped to queues.",
		actions: []action{
			{name: "create", args: "ID", nargs: 1, summary: "create a queue and print it", setup: func(fs *flag.FlagSet) func(*call) error {
				var req api.QueueRequest
				fs.StringVar(&req.Name, "name", "", "display name (default: the ID)")
				fs.StringVar(&req.Description, "description", "", "description")
				return func(c *call) error {
					req.ID = c.args[0]
					return queueCall(c, "POST", "/api/v1/queues", req, "created")
				}
			}},
			{name: "list", summary: "list the queues", setup: func(fs *flag.FlagSet) func(*call) error {
				return func(c *call) error {
					var qs []api.Queue
					if err := apiCall(c, "GET", "/api/v1/queues", nil, &qs); err != nil {
						return err
					}
					printQueues(c.Out, qs...)
					return nil
				}
			}},
			{name: "show", args: "ID", nargs: 1, summary: "print one queue", setup: func(fs *flag.FlagSet) func(*call) error {
				return func(c *call) error { return queueCall(c, "GET", "/api/v1/queues/"+url.PathEscape(c.args[0]), nil, "") }
			}},
			{name: "update", args: "ID", nargs: 1, summary: "change the queue's fields given as flags, keep the others, print the result", setup: func(fs *flag.FlagSet) func(*call) error {
				name := fs.String("name", "", "new display name")
				desc := fs.String("description", "", "new description (\"\" clears it)")
				return func(c *call) error {
					var p api.QueuePatch
					if c.given("name") {
						p.Name = name
					}
					if c.given("description") {
						p.Description = desc
					}
					if p == (api.QueuePatch{}) {
						return usageErr("queue update: nothing to change; give --name or --description")
					}
					return queueCall(c, "PATCH", "/api/v1/queues/"+url.PathEscape(c.args[0]), p, "updated")
				}
			}},
			{name: "delete", args: "ID", nargs: 1, summary: "delete a queue", setup: func(fs *flag.FlagSet) func(*call) error {
				return func(c *call) error {
					if err := apiCall(c, "DELETE", "/api/v1/queues/"+url.PathEscape(c.args[0]), nil, nil); err != nil {
						return err
					}
					fmt.Fprintf(c.Out, "deleted queue %s\n", c.args[0])
					return nil
				}
			}},
		}}
}

// apiCall calls the API with the call's client flags.
func apiCall(c *call, method, path string, body, out any) error {
	cl, err := c.api()
	if err != nil {
		return err
	}
	return cl.do(method, path, body, out)
}

// queueCall calls a route that answers with a queue and prints it, after
// "<verb> queue ID" when verb is set.
func queueCall(c *call, method, path string, body any, verb string) error {
	var q api.Queue
	if err := apiCall(c, method, path, body, &q); err != nil {
		return err
	}
	if verb != "" {
		fmt.Fprintf(c.Out, "%s queue %s\n", verb, q.ID)
	}
	printQueues(c.Out, q)
	return nil
}

func printQueues(w io.Writer, qs ...api.Queue) {
	rows := make([][]string, 0, len(qs))
	for _, q := range qs {
		rows = append(rows, []string{q.ID, q.Name, q.Description})
	}
	table(w, []string{"ID", "NAME", "DESCRIPTION"}, rows)
}

func userCommand(env Env) *group {
	const roles = "admin, supervisor, agent, analyst, auditor, ingest or compliance"
	return &group{name: "user", env: env,
		summary: "Manage users through the API: a user has a role, the queues it is scoped to and, for expert assist, a licence.",
		actions: []action{
			{name: "create", args: "ID", nargs: 1, summary: "create a user and print it", setup: func(fs *flag.FlagSet) func(*call) error {
				var req api.UserRequest
				fs.StringVar(&req.Role, "role", "", "role: "+roles+" (required)")
				queues := fs.String("queues", "", "comma-separated queue IDs the user is scoped to")
				fs.StringVar(&req.DisplayName, "name", "", "display name")
				fs.BoolVar(&req.Licensed, "licensed", false, "the user holds an expert-assist licence")
				fs.BoolVar(&req.Disabled, "disabled", false, "create the user disabled")
				return func(c *call) error {
					if req.Role == "" {
						return usageErr("user create needs --role (%s)", roles)
					}
					req.ID, req.Queues = c.args[0], splitList(*queues)
					return userCall(c, "POST", "/api/v1/users", req, "created")
				}
			}},
			{name: "list", summary: "list the users", setup: func(fs *flag.FlagSet) func(*call) error {
				return func(c *call) error {
					var us []api.User
					if err := apiCall(c, "GET", "/api/v1/users", nil, &us); err != nil {
						return err
					}
					printUsers(c.Out, us...)
					return nil
				}
			}},
			{name: "show", args: "ID", nargs: 1, summary: "print one user", setup: func(fs *flag.FlagSet) func(*call) error {
				return func(c *call) error { return userCall(c, "GET", "/api/v1/users/"+url.PathEscape(c.args[0]), nil, "") }
			}},
			{name: "update", args: "ID", nargs: 1,
				summary: "change the user's fields given as flags and keep every other one (queues, licence, ...), print the result",
				setup: func(fs *flag.FlagSet) func(*call) error {
					role := fs.String("role", "", "new role: "+roles)
					queues := fs.String("queues", "", "replace the user's queues with these comma-separated IDs (\"\" removes them all)")
					display := fs.String("name", "", "new display name")
					licensed := fs.Bool("licensed", false, "grant (--licensed) or withdraw (--licensed=false) the expert-assist licence")
					disabled := fs.Bool("disabled", false, "disable (--disabled) or enable (--disabled=false) the user")
					return func(c *call) error {
						var p api.UserPatch
						if c.given("role") {
							p.Role = role
						}
						if c.given("queues") {
							qs := splitList(*queues)
							p.Queues = &qs
						}
						if c.given("name") {
							p.DisplayName = display
						}
						if c.given("licensed") {
							p.Licensed = licensed
						}
						if c.given("disabled") {
							p.Disabled = disabled
						}
						if p == (api.UserPatch{}) {
							return usageErr("user update: nothing to change; give --role, --queues, --name, --licensed or --disabled")
						}
						return userCall(c, "PATCH", "/api/v1/users/"+url.PathEscape(c.args[0]), p, "updated")
					}
				}},
			{name: "delete", args: "ID", nargs: 1, summary: "delete a user and revoke its tokens", setup: func(fs *flag.FlagSet) func(*call) error {
				return func(c *call) error {
					if err := apiCall(c, "DELETE", "/api/v1/users/"+url.PathEscape(c.args[0]), nil, nil); err != nil {
						return err
					}
					fmt.Fprintf(c.Out, "deleted user %s and revoked its tokens\n", c.args[0])
					return nil
				}
			}},
		}}
}

// userCall calls a route that answers with a user and prints it, after
// "<verb> user ID" when verb is set.
func userCall(c *call, method, path string, body any, verb string) error {
	var u api.User
	if err := apiCall(c, method, path, body, &u); err != nil {
		return err
	}
	if verb != "" {
		fmt.Fprintf(c.Out, "%s user %s\n", verb, u.ID)
	}
	printUsers(c.Out, u)
	return nil
}

func printUsers(w io.Writer, us ...api.User) {
	rows := make([][]string, 0, len(us))
	for _, u := range us {
		rows = append(rows, []string{u.ID, u.Role, strings.Join(u.Queues, ","), yesNo(u.Licensed), yesNo(u.Disabled), u.DisplayName})
	}
	table(w, []string{"ID", "ROLE", "QUEUES", "LICENSED", "DISABLED", "NAME"}, rows)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func tokenCommand(env Env) *group {
	return &group{name: "token", env: env,
		summary: "Manage API tokens: a token acts as one user with the user's role; its secret is shown once.",
		actions: []action{
			{name: "create", summary: "create a token for a user; its secret goes to standard output, once", setup: func(fs *flag.FlagSet) func(*call) error {
				var req api.TokenRequest
				fs.StringVar(&req.UserID, "user", "", "the user the token acts as (required)")
				fs.StringVar(&req.Name, "name", "", "a label for the token")
				fs.StringVar(&req.ExpiresIn, "expires", "", "lifetime such as 720h (default: none)")
				queues := fs.String("queues", "", "ingest users: comma-separated queues (of the user's) the token may feed (default: all of the user's)")
				sources := fs.String("sources", "", "ingest users: comma-separated sources the token may feed: api, whip, websocket, upload (default: all)")
				return func(c *call) error {
					if req.UserID == "" {
						return usageErr("token create needs --user")
					}
					req.Queues, req.Sources = splitList(*queues), splitList(*sources)
					var t api.Token
					if err := apiCall(c, "POST", "/api/v1/tokens", req, &t); err != nil {
						return err
					}
					expiry := "never expires"
					if !t.ExpiresAt.IsZero() {
						expiry = "expires " + t.ExpiresAt.Format(time.RFC3339)
					}
					fmt.Fprintf(c.Err, "created token %s for user %s (%s); its secret is shown once:\n", t.ID, t.UserID, expiry)
					fmt.Fprintln(c.Out, t.Secret)
					return nil
				}
			}},
			{name: "list", summary: "list the tokens (never their secrets)", setup: func(fs *flag.FlagSet) func(*call) error {
				return func(c *call) error {
					var ts []api.Token
					if err := apiCall(c, "GET", "/api/v1/tokens", nil, &ts); err != nil {
						return err
					}
					rows := make([][]string, 0, len(ts))
					for _, t := range ts {
						state := "active"
						if !t.RevokedAt.IsZero() {
							state = "revoked"
						} else if !t.ExpiresAt.IsZero() && time.Now().After(t.ExpiresAt) {
							state = "expired"
						}
						rows = append(rows, []string{t.ID, t.UserID, t.Name, t.CreatedAt.Format(time.RFC3339), state,
							strings.Join(t.Queues, ","), strings.Join(t.Sources, ",")})
					}
					table(c.Out, []string{"ID", "USER", "NAME", "CREATED", "STATE", "QUEUES", "SOURCES"}, rows)
					return nil
				}
			}},
			{name: "revoke", args: "TOKEN_ID", nargs: 1, summary: "revoke a token", setup: func(fs *flag.FlagSet) func(*call) error {
				return func(c *call) error {
					if err := apiCall(c, "DELETE", "/api/v1/tokens/"+url.PathEscape(c.args[0]), nil, nil); err != nil {
						return err
					}
					fmt.Fprintf(c.Out, "revoked token %s\n", c.args[0])
					return nil
				}
			}},
		}}
}
