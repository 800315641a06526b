package plugins

import (
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
)

// hclogAdapter is the one bridge from go-plugin's hclog to the daemon's
// slog: go-plugin's own messages and the plugin processes' log lines (which
// go-plugin parses from their stderr) arrive here with their level and
// key-value pairs.
type hclogAdapter struct {
	l       *slog.Logger
	name    string
	implied []any
	level   *atomic.Int32 // hclog.Level; NoLevel means "ask slog"
	// leftovers counts the processes a plugin's sandbox ended, from the
	// sandbox's log line (nil: not counted).
	leftovers *prometheus.CounterVec
}

var _ hclog.Logger = (*hclogAdapter)(nil)

func newHCLogAdapter(l *slog.Logger, leftovers *prometheus.CounterVec) hclog.Logger {
	lv := &atomic.Int32{}
	lv.Store(int32(hclog.NoLevel))
	return &hclogAdapter{l: l, level: lv, leftovers: leftovers}
}

func toSlogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (a *hclogAdapter) enabled(l hclog.Level) bool {
	if min := hclog.Level(a.level.Load()); min != hclog.NoLevel && l < min {
		return false
	}
	return a.l.Enabled(context.Background(), toSlogLevel(l))
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || !a.enabled(level) {
		return
	}
	attrs := make([]any, 0, len(a.implied)+len(args)+2)
	if a.name != "" {
		attrs = append(attrs, "logger", a.name)
	}
	attrs = append(attrs, a.implied...)
	attrs = append(attrs, normalise(args)...)
	if msg == leftoverMessage && a.leftovers != nil {
		a.countLeftovers(attrs)
	}
	a.l.Log(context.Background(), toSlogLevel(level), msg, attrs...)
}

// countLeftovers adds the sandbox's count of ended processes to the
// plugin's counter.
func (a *hclogAdapter) countLeftovers(attrs []any) {
	var plugin string
	var n float64
	for i := 0; i+1 < len(attrs); i += 2 {
		switch attrs[i] {
		case "plugin":
			plugin, _ = attrs[i+1].(string)
		case "count":
			n, _ = attrs[i+1].(float64) // JSON numbers from the plugin's stderr
		}
	}
	if plugin != "" && n > 0 {
		a.leftovers.WithLabelValues(plugin).Add(n)
	}
}

// normalise renames hclog's "error" key to the daemon's "err" and drops a
// dangling key.
func normalise(args []any) []any {
	if len(args)%2 == 1 {
		args = args[:len(args)-1]
	}
	out := make([]any, len(args))
	copy(out, args)
	for i := 0; i < len(out); i += 2 {
		if k, ok := out[i].(string); ok && k == "error" {
			out[i] = "err"
		}
	}
	return out
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }
func (a *hclogAdapter) IsTrace() bool                 { return a.enabled(hclog.Trace) }
func (a *hclogAdapter) IsDebug() bool                 { return a.enabled(hclog.Debug) }
func (a *hclogAdapter) IsInfo() bool                  { return a.enabled(hclog.Info) }
func (a *hclogAdapter) IsWarn() bool                  { return a.enabled(hclog.Warn) }
func (a *hclogAdapter) IsError() bool                 { return a.enabled(hclog.Error) }
func (a *hclogAdapter) ImpliedArgs() []any            { return a.implied }
func (a *hclogAdapter) Name() string                  { return a.name }

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	b := *a
	b.implied = append(append([]any(nil), a.implied...), normalise(args)...)
	return &b
}

func (a *hclogAdapter) Named(name string) hclog.Logger {
	b := *a
	if b.name != "" {
		b.name += "." + name
	} else {
		b.name = name
	}
	return &b
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	b := *a
	b.name = name
	return &b
}

func (a *hclogAdapter) SetLevel(l hclog.Level) { a.level.Store(int32(l)) }

func (a *hclogAdapter) GetLevel() hclog.Level {
	if l := hclog.Level(a.level.Load()); l != hclog.NoLevel {
		return l
	}
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if a.l.Enabled(context.Background(), toSlogLevel(l)) {
			return l
		}
	}
	return hclog.Off
}

func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

func (a *hclogAdapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	lv := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		lv = opts.ForceLevel
	}
	return writerFunc(func(p []byte) (int, error) {
		a.Log(lv, strings.TrimRight(string(p), "\n"))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
