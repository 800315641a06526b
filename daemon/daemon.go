package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/store"
)

// Daemon is one running Earshot service: its store, controls and API.
type Daemon struct {
	cfg    Config
	logger *slog.Logger
	reg    *prometheus.Registry

	store          *store.Store
	controls       *Controls
	metrics        *metrics
	metricsHandler http.Handler
	tlsConfig      *tls.Config

	ready atomic.Bool
}

// New opens the store and builds the daemon; nothing listens yet. A nil
// logger discards logs.
func New(cfg Config, logger *slog.Logger) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("daemon: config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{cfg: cfg, logger: logger, reg: newRegistry()}
	var err error
	if d.metrics, err = newMetrics(d.reg); err != nil {
		return nil, err
	}
	d.metricsHandler = newMetricsHandler(d.reg)
	if d.store, err = store.Open(store.Options{Dir: cfg.DataDir, Logger: logger}); err != nil {
		return nil, err
	}
	// From here on, a failure closes what was opened.
	ok := false
	defer func() {
		if !ok {
			d.store.Close()
		}
	}()
	if d.controls, err = newControls(d.store, *cfg.LocalModelsOnly); err != nil {
		return nil, err
	}
	path, err := bootstrapAdmin(d.store, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if path != "" {
		logger.Warn("created the bootstrap administrator token; keep it secret and create named tokens", "path", path)
	}
	if d.tlsConfig, err = loadTLS(cfg, logger); err != nil {
		return nil, err
	}
	ok = true
	return d, nil
}

// Listen binds the API's listener (TLS if configured).
func (d *Daemon) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("daemon: listen on %s: %w", d.cfg.Listen, err)
	}
	if d.tlsConfig != nil {
		ln = tls.NewListener(ln, d.tlsConfig)
	}
	return ln, nil
}

// Serve serves the API on ln until ctx is done, then lets in-flight
// requests finish (up to the shutdown timeout) and closes the store. It
// returns nil after a clean shutdown.
func (d *Daemon) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           d.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(d.logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	d.ready.Store(true)
	scheme := "http"
	if d.tlsConfig != nil {
		scheme = "https"
	}
	d.logger.Info("earshot serving", "version", Version, "api", scheme+"://"+ln.Addr().String(), "data_dir", d.cfg.DataDir)
	sdNotify("READY=1")

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	d.ready.Store(false)
	sdNotify("STOPPING=1")
	shutCtx, cancel := context.WithTimeout(context.Background(), time.Duration(d.cfg.ShutdownTimeout))
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		d.logger.Warn("shutdown did not finish in time; closing connections", "err", err)
		srv.Close()
	}
	if serveErr == nil {
		serveErr = <-errc
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	if err := d.store.Close(); err != nil && serveErr == nil {
		serveErr = err
	}
	d.logger.Info("earshot stopped")
	return serveErr
}

// Run listens and serves until ctx is done.
func (d *Daemon) Run(ctx context.Context) error {
	ln, err := d.Listen()
	if err != nil {
		d.store.Close()
		return err
	}
	return d.Serve(ctx, ln)
}

// Close releases the daemon's resources when Run was never called.
func (d *Daemon) Close() error { return d.store.Close() }

// audit records a change or an access. Entries carry IDs, never content.
func (d *Daemon) audit(r *http.Request, p *Principal, action, target string) {
	actor := ""
	if p != nil {
		actor = p.User.ID
	}
	d.logger.Info("audit", "actor", actor, "action", action, "target", target)
}
