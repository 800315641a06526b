package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/earshot/earshot/daemon/api"
)

// errDoctorFailed makes `earshot doctor` exit 1 when a check failed.
var errDoctorFailed = errors.New("a check failed")

// doctorCommand is `earshot doctor`: the self-checks, asked of the running
// daemon through the API (GET /api/v1/doctor) when it answers, else run
// here with the daemon stopped (env.Doctor). It exits 1 when a check
// fails; warnings alone exit 0.
func doctorCommand(env Env) func(IO, []string) error {
	a := action{offline: false,
		summary: "check the installation and the running daemon: configuration, data directory, keys, disk, models, servers, ports, clock; each check prints ok, warn or fail with the fix",
		setup: func(fs *flag.FlagSet) func(*call) error {
			offline := fs.Bool("offline", false, "run the checks here even if the daemon answers (they then need it stopped for the key store)")
			asJSON := fs.Bool("json", false, "print the report as JSON")
			return func(c *call) error {
				var rep api.DoctorReport
				asked := false
				if !*offline {
					// Without a readable configuration or a token the checks
					// run here (the config check then says what is wrong);
					// a daemon that does not answer is stopped; a daemon that
					// answers and refuses is an error.
					if cl, err := c.api(); err == nil {
						err = cl.do("GET", "/api/v1/doctor", nil, &rep)
						var ne *net.OpError
						if err != nil && !errors.As(err, &ne) {
							return err
						}
						asked = err == nil
					}
				}
				if !asked {
					if env.Doctor == nil {
						return errors.New("the daemon does not answer and this binary cannot run the checks itself")
					}
					rep = env.Doctor(context.Background(), c.cf.config)
				}
				if *asJSON {
					enc := json.NewEncoder(c.Out)
					enc.SetIndent("", "  ")
					if err := enc.Encode(rep); err != nil {
						return err
					}
				} else {
					printDoctor(c.Out, rep)
				}
				if rep.Status == "fail" {
					return errDoctorFailed
				}
				return nil
			}
		}}
	return func(stdio IO, args []string) error { return a.run(stdio, env, "doctor", args) }
}

// printDoctor writes one line per check, and the fix under each that is
// not ok.
func printDoctor(w io.Writer, rep api.DoctorReport) {
	where := "checked by the running daemon"
	if rep.Mode == "offline" {
		where = "checked here (the daemon did not answer)"
	}
	fmt.Fprintf(w, "earshot %s, %s\n", rep.Version, where)
	for _, c := range rep.Checks {
		fmt.Fprintf(w, "%-4s  %-14s %s\n", strings.ToUpper(c.Status), c.Name, c.Message)
		if c.Fix != "" {
			fmt.Fprintf(w, "      %-14s fix: %s\n", "", c.Fix)
		}
	}
	fmt.Fprintf(w, "overall: %s\n", rep.Status)
}
