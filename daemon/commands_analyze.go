package daemon

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/earshot/earshot/media/analyze"
	"github.com/earshot/earshot/media/pipeline"
)

// Analyze is `earshot analyze FILE`: it transcribes a WAV file (or reads a
// ready JSON transcript) offline, with no daemon running, and prints the
// transcript.
func Analyze(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	cfgPath := fs.String("config", DefaultConfigPath, "configuration file (speech-to-text settings)")
	parties := fs.String("parties", "", "channel-to-party map, e.g. customer,agent")
	downmix := fs.Bool("downmix", false, "mix all channels into one party")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	const usage = "earshot analyze FILE [--parties customer,agent] [--downmix] [--json]"
	pos, err := parseInterleaved(stdout, fs, usage, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("%s", usage)
	}
	cfg, err := LoadConfig(*cfgPath, false)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	engine := &lazyEngine{name: cfg.Media.Engine, create: newEngineFunc(cfg.Media, nil)}
	defer engine.Close()
	p, err := pipeline.New(cfg.Media.Pipeline, nil, nil, engine)
	if err != nil {
		return err
	}
	a, err := analyze.New(p, nil, nil)
	if err != nil {
		return err
	}
	opts := analyze.Options{ID: "offline", Source: "file", Downmix: *downmix}
	for _, party := range strings.Split(*parties, ",") {
		if party = strings.TrimSpace(party); party != "" {
			opts.Parties = append(opts.Parties, partyName(party))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := a.Analyze(ctx, data, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	if err := analyze.Print(stdout, res); err != nil {
		return err
	}
	if res.Kind == "audio" && res.ProcessingMs > 0 {
		fmt.Fprintf(stderr, "%.1f s of audio in %.1f s (%.1fx real time)\n",
			float64(res.DurationMs)/1000, float64(res.ProcessingMs)/1000, float64(res.DurationMs)/float64(res.ProcessingMs))
	}
	return nil
}
