package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/admin"
	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/config"
	"github.com/wardenproject/warden/internal/gateway"
	"github.com/wardenproject/warden/internal/route"
	"github.com/wardenproject/warden/internal/vault"
)

func (a *app) serveCmd() *cobra.Command {
	var addr, cert, key, metricsAddr string
	var selfSigned, configTest bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Warden server",
		Long: `Run the Warden server. With no configuration at all it listens on
127.0.0.1:8080, keeps its data in ./warden-data (created 0700) and generates
a master key file there on first run.

Health endpoints: /healthz (the process serves) and /readyz (the store is
reachable and the vault is unlocked). SIGINT or SIGTERM stops accepting new
connections and drains in-flight requests before exiting.`,
		Example: `  warden serve
  warden serve --addr 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem
  warden serve --tls-self-signed            # local HTTPS for testing
  warden serve --config warden.yaml --config-test`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			flags := cmd.Flags()
			if flags.Changed("addr") {
				cfg.Server.Addr = addr
			}
			if flags.Changed("tls-cert") {
				cfg.Server.TLS.CertFile = cert
			}
			if flags.Changed("tls-key") {
				cfg.Server.TLS.KeyFile = key
			}
			if flags.Changed("tls-self-signed") {
				cfg.Server.TLS.SelfSigned = selfSigned
			}
			if flags.Changed("metrics-addr") {
				cfg.Metrics.Addr = metricsAddr
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			if configTest {
				out, err := cfg.Redacted()
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "configuration OK\n---\n%s", out)
				return nil
			}
			return a.serve(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve /metrics on this address instead of the main listener")
	f.StringVar(&cert, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&key, "tls-key", "", "TLS private key file (PEM)")
	f.BoolVar(&selfSigned, "tls-self-signed", false, "serve HTTPS with a generated self-signed certificate (local use only)")
	f.BoolVar(&configTest, "config-test", false, "check the configuration, print it and exit")
	return cmd
}

func (a *app) serve(ctx context.Context, cfg *config.Config) error {
	log := slog.New(slog.NewJSONHandler(a.io.Stderr, &slog.HandlerOptions{Level: logLevel(cfg.Log.Level)}))
	if cfg.Log.Format == "text" {
		log = slog.New(slog.NewTextHandler(a.io.Stderr, &slog.HandlerOptions{Level: logLevel(cfg.Log.Level)}))
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	s, err := a.openWith(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	keyID, version := s.vault.ActiveKeyID()
	log.Info("vault unlocked", "key_source", s.vault.Source(), "key_id", keyID, "key_version", version, "data_dir", cfg.DataDir)

	dp, err := a.buildDataPlane(ctx, cfg, s, log)
	if err != nil {
		return err
	}
	// The key manager polls for revocations and flushes last-used times;
	// wait for its final flush before the store closes.
	keysDone := make(chan struct{})
	go func() { defer close(keysDone); dp.keys.Run(ctx) }()
	defer func() { <-keysDone }()
	// Retention: once a day, audit records older than audit.retention go,
	// up to a signed checkpoint that anchors the rest.
	go pruneAudit(ctx, s.db, cfg.Audit.Retention, log)
	// Spans still buffered are exported.
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := dp.stopTracing(flushCtx); err != nil {
			log.Warn("spans not all exported", "reason", err.Error())
		}
	}()
	// Audit records still queued are written, with a final signed
	// checkpoint, before the store closes.
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := dp.audit.Close(flushCtx); err != nil {
			log.Error("audit records not all written", "reason", err.Error())
		}
	}()
	// Alerts still queued are stored and sent before the store closes.
	defer func() {
		dp.detector.Close()
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := dp.alerts.Close(flushCtx); err != nil {
			log.Error("alerts not all delivered", "reason", err.Error())
		}
	}()
	// Usage records still queued are written before the store closes.
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := dp.usage.Close(flushCtx); err != nil {
			log.Error("usage records not all written", "reason", err.Error())
		}
	}()

	health := gateway.Health([]gateway.Check{
		{Name: "store", Func: s.db.Ping},
		{Name: "vault", Func: s.vault.Check},
	}, log)
	adminAPI, err := admin.New(admin.Options{
		Record: func(rec audit.Record) {
			if err := dp.audit.Log(context.Background(), rec); err != nil {
				log.Error("audit record not written", "request_id", rec.RequestID, "reason", err.Error())
			}
		},
		Auth:           dp.auth,
		AuthThrottle:   dp.authThrottle,
		Keys:           dp.keys,
		Teams:          dp.keys,
		Users:          dp.keys,
		Usage:          s.db,
		Audit:          s.db,
		Alerts:         s.db,
		Providers:      providerInfo(cfg, dp.router),
		TrustedProxies: cfg.Server.TrustedPrefixes(),
		Logger:         log,
	})
	if err != nil {
		return err
	}
	metricsHandler := http.NotFoundHandler()
	if cfg.Metrics.Enabled {
		token := ""
		if cfg.Metrics.Token != "" {
			ref, _ := config.ParseRef(cfg.Metrics.Token) // checked by config.Validate
			sec, err := vault.NewResolver(s.vault, a.lookup, 0, log).Resolve(ctx, ref.Scheme, ref.Name)
			if err != nil {
				return fmt.Errorf("metrics.token: %w", err)
			}
			token = sec.RevealString()
		}
		metricsHandler = dp.metrics.Handler(token)
		if cfg.Metrics.Addr != "" {
			// A listener of its own, e.g. reachable only from the
			// monitoring network; the main listener then has no /metrics.
			metricsOnly := metricsHandler
			metricsHandler = http.NotFoundHandler()
			metricsCtx, stopMetrics := context.WithCancel(ctx)
			metricsDone := make(chan struct{})
			defer func() { stopMetrics(); <-metricsDone }()
			go func() {
				defer close(metricsDone)
				mux := http.NewServeMux()
				mux.Handle("/metrics", metricsOnly)
				err := gateway.Serve(metricsCtx, gateway.ServerOptions{Addr: cfg.Metrics.Addr, Logger: log.With("listener", "metrics")}, mux)
				if err != nil && metricsCtx.Err() == nil {
					log.Error("the metrics listener stopped", "addr", cfg.Metrics.Addr, "reason", err.Error())
				}
			}()
		}
	}
	root := routes(health, adminAPI, metricsHandler, dp.gateway)

	minTLS := uint16(tls.VersionTLS12)
	if cfg.Server.TLS.MinVersion == "1.3" {
		minTLS = tls.VersionTLS13
	}
	return gateway.Serve(ctx, gateway.ServerOptions{
		Addr:              cfg.Server.Addr,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.ReadTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		ShutdownTimeout:   cfg.Server.ShutdownTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		TLSCertFile:       cfg.Server.TLS.CertFile,
		TLSKeyFile:        cfg.Server.TLS.KeyFile,
		TLSSelfSigned:     cfg.Server.TLS.SelfSigned,
		TLSMinVersion:     minTLS,
		Logger:            log,
	}, gateway.RequestID(gateway.AccessLog(log)(root)))
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// routes sends the probes to health, paths under /admin/ to the admin
// API, and every other request to gw, with its path as sent. An
// http.ServeMux in front would answer paths with ".", ".." or "//"
// segments with a redirect to the cleaned path, which can be another
// route; the gateway and the admin API refuse them themselves.
func routes(health, adminAPI, metrics, gw http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/healthz" || p == "/readyz":
			health.ServeHTTP(w, r)
		case p == "/metrics":
			metrics.ServeHTTP(w, r)
		case p == "/admin" || strings.HasPrefix(p, "/admin/"):
			adminAPI.ServeHTTP(w, r)
		default:
			gw.ServeHTTP(w, r)
		}
	})
}

// providerInfo describes the configured providers to the admin API: name,
// type, host and number of keys from cfg, models and deployments from the
// router, and breaker states read afresh on each call. Nothing that could
// be a credential is copied: not the key references, not the headers, not
// the base URL beyond its host.
func providerInfo(cfg *config.Config, router *route.Router) func() []admin.ProviderInfo {
	infos := make([]admin.ProviderInfo, 0, len(cfg.Providers))
	for _, name := range sortedNames(cfg.Providers) {
		p := cfg.Providers[name]
		base := p.BaseURL
		if base == "" {
			base = defaultBaseURLs[p.Type]
		}
		host := ""
		if u, err := url.Parse(base); err == nil {
			host = u.Host
		}
		n := len(p.APIKeys)
		if p.APIKey != "" {
			n = 1
		}
		info := admin.ProviderInfo{Name: name, Type: p.Type, Host: host, Keys: n}
		for _, model := range router.Models() {
			for _, d := range router.Deployments(model) {
				if d.Provider != name {
					continue
				}
				if !slices.Contains(info.Models, model) {
					info.Models = append(info.Models, model)
				}
				if !slices.ContainsFunc(info.Deployments, func(x admin.DeploymentInfo) bool { return x.ID == d.ID }) {
					info.Deployments = append(info.Deployments, admin.DeploymentInfo{ID: d.ID, Model: d.Model})
				}
			}
		}
		infos = append(infos, info)
	}
	return func() []admin.ProviderInfo {
		out := make([]admin.ProviderInfo, len(infos))
		for i, p := range infos {
			p.Models = slices.Clone(p.Models)
			p.Deployments = slices.Clone(p.Deployments)
			for j := range p.Deployments {
				p.Deployments[j].Breaker = router.BreakerState(p.Deployments[j].ID)
			}
			out[i] = p
		}
		return out
	}
}

// pruneAudit applies the audit retention a minute after start and then
// daily until ctx ends.
func pruneAudit(ctx context.Context, store audit.Pruner, retention time.Duration, log *slog.Logger) {
	wait := time.Minute
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = 24 * time.Hour
		res, err := audit.Prune(ctx, store, time.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("audit retention: pruning failed", "reason", err.Error())
		case res.Deleted > 0:
			log.Info("audit retention: pruned old records", "deleted", res.Deleted, "anchor_seq", res.Anchor)
		}
	}
}
