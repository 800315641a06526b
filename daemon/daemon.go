package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/earshot/earshot/daemon/guard"
	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference/forecast"
	"github.com/earshot/earshot/inference/redact"
	"github.com/earshot/earshot/inference/wfm"
	"github.com/earshot/earshot/plugins"
	"github.com/earshot/earshot/store"
)

// Daemon is one running Earshot service: its store, controls and API.
type Daemon struct {
	cfg    Config
	logger *slog.Logger
	reg    *prometheus.Registry

	store          *store.Store
	controls       *Controls
	hub            *hub.Hub
	guard          *guard.Registry // re-checks long-lived connections: access.go
	media          *mediaRouter
	sip            *sipIngest
	analytics      *analytics
	quality        *quality
	idem           idemCache // Idempotency-Key of chat message posts
	plugins        *plugins.Host
	kb             *knowledge
	pluginSettings *pluginSettings
	// siteConfigMu serialises applications of site configuration bundles.
	siteConfigMu   sync.Mutex
	sinks          *sinkOutbox
	storeKeys      *plugins.StoreKeys // the store's key provider when it is a plugin; closed by the store
	forecast       *forecast.Service
	wfm            *wfm.Service
	bots           *botService
	changes        *changeNotifier // who may do what changed (watch.go)
	fits           fitSlots        // forecast fits running: api_forecast.go
	signInMu       sync.Mutex      // one sign-in code exchange at a time: api_signin.go
	translator     *chatTranslator // nil when Apertium is not installed
	redaction      *redaction
	metrics        *metrics
	metricsHandler http.Handler
	tlsConfig      *tls.Config

	ready atomic.Bool
	// streams is cancelled at the stop signal: event streams end then,
	// while other requests in flight finish (see Serve).
	streams    context.Context
	endStreams context.CancelFunc
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
	d := &Daemon{cfg: cfg, logger: logger, reg: newRegistry(), changes: newChangeNotifier(), fits: make(fitSlots, maxFits)}
	d.streams, d.endStreams = context.WithCancel(context.Background())
	var err error
	if d.metrics, err = newMetrics(d.reg); err != nil {
		return nil, err
	}
	d.metricsHandler = newMetricsHandler(d.reg)
	// A keys plugin must run before the store can unwrap its keys; the
	// store closes it.
	if d.storeKeys, err = openStoreKeys(cfg, logger, d.reg); err != nil {
		return nil, err
	}
	opts := store.Options{Dir: cfg.DataDir, Logger: logger, Config: cfg.Store, Registerer: d.reg}
	if d.storeKeys != nil {
		opts.Provider = d.storeKeys
	}
	if d.store, err = store.Open(context.Background(), opts); err != nil {
		if d.storeKeys != nil {
			d.storeKeys.Close() // idempotent: the store may have closed it
		}
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
	if d.forecast, err = forecast.New(forecast.DefaultConfig(), logger, d.reg); err != nil {
		return nil, err
	}
	if d.wfm, err = wfm.New(wfm.DefaultConfig(), logger, d.reg); err != nil {
		return nil, err
	}
	if d.guard, err = guard.New(guard.DefaultConfig(), logger, d.reg); err != nil {
		return nil, err
	}
	if d.translator, err = newChatTranslator(d, cfg.Translate, logger, d.reg); err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			d.translator.Close()
		}
	}()
	hubCfg := cfg.Engagements.hubConfig()
	hubCfg.AnalysisLanguage = cfg.Translate.AnalysisLanguage
	if d.hub, err = hub.New(hubCfg, d.store, d.controls, logger, d.reg); err != nil {
		return nil, err
	}
	if d.media, err = newMediaRouter(d, cfg.Media, logger, d.reg); err != nil {
		return nil, err
	}
	if d.sip, err = newSIPIngest(d.media, cfg.Media.SIP, logger, d.reg); err != nil {
		return nil, err
	}
	if d.analytics, err = newAnalytics(d, logger, d.reg); err != nil {
		return nil, err
	}
	if d.plugins, d.pluginSettings, err = newPluginHost(d, logger); err != nil {
		return nil, err
	}
	if err := clearImportSpool(cfg.DataDir); err != nil {
		return nil, err
	}
	if d.kb, err = newKnowledge(d, logger); err != nil {
		return nil, err
	}
	if d.sinks, err = newSinkOutbox(d, cfg.Sinks, logger, d.reg); err != nil {
		return nil, err
	}
	redactMetrics, err := redact.NewMetrics(d.reg)
	if err != nil {
		return nil, err
	}
	if d.redaction, err = newRedaction(cfg.Redaction, cfg.Store.Retention.TranscriptDays, d.controls, redactMetrics, d.store, logger); err != nil {
		return nil, err
	}
	d.hub.SetRedaction(d.redaction)
	if d.quality, err = newQuality(d, d.analytics.route, logger, d.reg); err != nil {
		return nil, err
	}
	if d.bots, err = newBotService(d, logger, d.reg); err != nil {
		return nil, err
	}
	d.hub.AddLive(d.analytics, d.kb, d.quality, d.bots)
	d.hub.AddPost(d.analytics, d.quality, d.bots)
	if n, err := endOrphans(d.store); err != nil {
		return nil, err
	} else if n > 0 {
		logger.Warn("ended engagements left live by a previous run", "count", n)
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

// Serve serves the API on ln, and runs the engagement hub and the store's
// retention sweeper, until ctx is done. Then it stops accepting requests,
// lets in-flight ones finish (up to the shutdown timeout), ends the live
// engagements after storing what they hold, and closes the store last. It
// returns nil after a clean shutdown.
func (d *Daemon) Serve(ctx context.Context, ln net.Listener) error {
	// Requests in flight at the stop signal finish on their own contexts,
	// which end only at the shutdown deadline (or when their client goes):
	// a store write they started is not refused as cancelled. Event streams
	// end on d.streams instead.
	reqCtx, endRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer endRequests()
	srv := &http.Server{
		Handler:           d.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ErrorLog:          slog.NewLogLogger(d.logger.Handler(), slog.LevelWarn),
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return d.hub.Run(gctx) })
	g.Go(func() error { return d.guard.Run(gctx) })
	g.Go(func() error { return d.sip.run(gctx) })
	g.Go(func() error { return d.store.Run(gctx) })
	g.Go(func() error { return d.plugins.Run(gctx) })
	g.Go(func() error { return d.syncKnowledge(gctx, knowledgeSyncInterval) })
	g.Go(func() error { return d.sinks.run(gctx) })
	g.Go(func() error { return d.quality.run(gctx) })
	g.Go(func() error { return d.bots.run(gctx) })
	g.Go(func() error { return d.media.runWarm(gctx) })
	g.Go(func() error {
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return fmt.Errorf("daemon: serve: %w", err)
		case <-gctx.Done():
		}
		d.ready.Store(false)
		d.endStreams()
		sdNotify("STOPPING=1")
		shutCtx, cancel := context.WithTimeout(context.Background(), time.Duration(d.cfg.ShutdownTimeout))
		defer cancel()
		if err := srv.Shutdown(shutCtx); err != nil {
			d.logger.Warn("shutdown did not finish in time; closing connections", "err", err)
			endRequests()
			srv.Close()
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	d.ready.Store(true)
	scheme := "http"
	if d.tlsConfig != nil {
		scheme = "https"
	}
	d.logger.Info("earshot serving", "version", Version, "api", scheme+"://"+ln.Addr().String(), "data_dir", d.cfg.DataDir)
	sdNotify("READY=1")

	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	// Ingest first, so that the last segments reach the hub; then the
	// hub, so that they reach the store; the store last.
	d.media.close()
	d.hub.Shutdown()
	d.bots.close()
	d.translator.Close()
	d.analytics.close()
	d.plugins.Close()
	if cerr := d.store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	d.logger.Info("earshot stopped")
	return err
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
func (d *Daemon) Close() error {
	d.media.close()
	d.hub.Shutdown()
	d.bots.close()
	d.translator.Close()
	d.analytics.close()
	d.plugins.Close()
	return d.store.Close()
}

// orphanWindow bounds how far back a start looks for engagements that a
// crash left live.
const orphanWindow = 7 * 24 * time.Hour

// endOrphans marks ended the engagements still live in the store: at
// start, no engagement is live, so these were cut off by a crash or a kill.
func endOrphans(st *store.Store) (int, error) {
	now := time.Now().UTC()
	es, err := st.Engagements(context.Background(), store.EngagementFilter{From: now.Add(-orphanWindow)})
	if err != nil {
		return 0, fmt.Errorf("daemon: find orphaned engagements: %w", err)
	}
	n := 0
	for _, e := range es {
		if e.Status == store.StatusLive {
			if err := st.EndEngagement(context.Background(), e.ID, now); err != nil {
				return n, fmt.Errorf("daemon: end orphaned engagement %s: %w", e.ID, err)
			}
			n++
		}
	}
	return n, nil
}

// auditEntry describes a change or an access by the caller of r, for the
// store to append in the same transaction as the change. Entries carry IDs,
// never content.
func auditEntry(r *http.Request, p *Principal, action, target string) store.AuditEntry {
	e := store.AuditEntry{Action: action, Target: target, Actor: "anonymous"}
	if p != nil {
		e.Actor = p.User.ID
		e.Detail = map[string]string{"token": p.Token.ID, "role": p.User.Role}
	}
	return e
}

// audit appends an entry on its own, for changes the store does not make
// (settings held by the daemon). A failure is logged: the change happened.
func (d *Daemon) audit(r *http.Request, p *Principal, action, target string) {
	if err := d.store.AppendAudit(r.Context(), auditEntry(r, p, action, target)); err != nil {
		d.logger.Error("audit append failed", "action", action, "err", err)
	}
}
