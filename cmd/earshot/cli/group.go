package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// group is a command made of actions: earshot NAME ACTION [flags] [ARGS].
// Its actions call the API, so each takes the client flags beside its own.
type group struct {
	name    string
	summary string // what the command is for, printed by -h
	env     Env
	actions []action
}

// action is one action of a group.
type action struct {
	name    string
	args    string // the positional arguments in the usage line, e.g. "ID"
	nargs   int    // how many positional arguments it takes
	summary string
	// offline actions do not call the API: they take --config only.
	offline bool
	// setup declares the action's own flags on fs and returns the function
	// that runs the action once fs is parsed.
	setup func(fs *flag.FlagSet) func(c *call) error
}

// call is one run of an action.
type call struct {
	IO
	args []string // the positional arguments
	fs   *flag.FlagSet
	cf   *clientFlags
	env  Env
}

// given reports whether the flag was on the command line.
func (c *call) given(name string) bool {
	found := false
	c.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// api returns a client for the daemon the client flags name.
func (c *call) api() (*client, error) { return c.cf.client(c.env) }

func (g *group) help(w io.Writer) {
	fmt.Fprintf(w, "usage: earshot %s ACTION [flags]\n\n%s\n\nactions:\n", g.name, g.summary)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, a := range g.actions {
		fmt.Fprintf(tw, "  %s %s\t%s\n", a.name, a.args, a.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun 'earshot %s ACTION -h' for an action's flags.\n", g.name)
}

func (g *group) actionNames() string {
	names := make([]string, len(g.actions))
	for i, a := range g.actions {
		names[i] = a.name
	}
	return strings.Join(names, "|")
}

// run parses earshot NAME ACTION [flags] [ARGS] and runs the action.
func (g *group) run(stdio IO, args []string) error {
	if isHelp(args) {
		g.help(stdio.Out)
		return flag.ErrHelp
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageErr("earshot %s %s [flags] (earshot %s -h explains them)", g.name, g.actionNames(), g.name)
	}
	var a *action
	for i := range g.actions {
		if g.actions[i].name == args[0] {
			a = &g.actions[i]
		}
	}
	if a == nil {
		return usageErr("unknown %s action %q; want %s (earshot %s -h explains them)", g.name, args[0], g.actionNames(), g.name)
	}
	return a.run(stdio, g.env, g.name+" "+a.name, args[1:])
}

// run parses the action's flags and arguments and runs it; name is the
// command line before them ("queue create").
func (a action) run(stdio IO, env Env, name string, args []string) error {
	usage := "earshot " + name
	if a.args != "" {
		usage += " " + a.args
	}
	usage += " [flags]"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &call{IO: stdio, fs: fs, env: env}
	c.cf = addClientFlags(fs, env, a.offline)
	runAction := a.setup(fs)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdio.Out, "usage: %s\n\n%s\n\nflags:\n", usage, a.summary)
		fs.SetOutput(stdio.Out)
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return usageErr("%s: %v (earshot %s -h lists the flags)", name, err, name)
	}
	if len(pos) != a.nargs {
		return usageErr("%s", usage)
	}
	c.args = pos
	return runAction(c)
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments (earshot queue create billing --name Billing) and
// returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// table writes a header and rows, aligned.
func table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func splitList(s string) []string {
	out := []string{}
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
