package analyze

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
)

// MaxFileBytes bounds the files File reads (about 3 h of 16 kHz mono).
const MaxFileBytes = 400 << 20

// File is `earshot analyze FILE`: it transcribes the WAV file (or reads the
// JSON transcript) at path offline with the built-in PocketSphinx engine on
// its default settings and prints the transcript to w. psCfg may be the
// zero Config for the defaults.
func File(ctx context.Context, path string, w io.Writer, opts Options, psCfg pocketsphinx.Config, logger *slog.Logger) (*Result, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	if fi.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes, over the %d limit", ErrBadInput, path, fi.Size(), MaxFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	if psCfg.ModelDir == "" {
		psCfg = pocketsphinx.DefaultConfig()
	}
	eng, err := pocketsphinx.New(psCfg, logger)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	p, err := pipeline.New(pipeline.DefaultConfig(), logger, nil, eng)
	if err != nil {
		return nil, err
	}
	a, err := New(p, logger, nil)
	if err != nil {
		return nil, err
	}
	if opts.Source == "" {
		opts.Source = "file"
	}
	r, err := a.Analyze(ctx, data, opts)
	if err != nil {
		return nil, err
	}
	if err := Print(w, r); err != nil {
		return nil, fmt.Errorf("analyze: write transcript: %w", err)
	}
	return r, nil
}
