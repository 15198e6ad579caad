package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/config"
	"github.com/wardenproject/warden/internal/detect"
	"github.com/wardenproject/warden/internal/gateway"
	"github.com/wardenproject/warden/internal/guard"
	"github.com/wardenproject/warden/internal/guard/injection"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/limit"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/monitor/alert"
	"github.com/wardenproject/warden/internal/monitor/anomaly"
	"github.com/wardenproject/warden/internal/monitor/feed"
	"github.com/wardenproject/warden/internal/monitor/metrics"
	"github.com/wardenproject/warden/internal/provider"
	"github.com/wardenproject/warden/internal/providertest"
	"github.com/wardenproject/warden/internal/route"
	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/store/sqlite"
	"github.com/wardenproject/warden/internal/vault"
)

// Names of the three targets, in the order every phase visits them.
const (
	targetDirect = "direct"
	targetBare   = "bare-proxy"
	targetWarden = "warden"
)

// benchModel is the public model name Warden serves and the fake answers.
const benchModel = "gpt-4o-mini"

// providerSecretName is the vault secret holding the fake's provider key,
// referenced the way a configuration would (secret://NAME).
const providerSecretName = "bench-provider"

// pepperSecretName matches the name warden serve keeps its key pepper
// under, so the data directory looks like a real one.
const pepperSecretName = "warden.key-pepper"

// recordResetEvery bounds the fake's memory: it records every request it
// sees, which under load would otherwise grow without end.
const recordResetEvery = 250 * time.Millisecond

// target is one server the load generator can call: a chat completions URL
// and the credential it expects.
type target struct {
	name string
	url  string
	// auth is the Authorization header value; it holds a key, so it is
	// never printed.
	auth string
}

// rigOptions shape the upstream and Warden's logging.
type rigOptions struct {
	// Latency is the fake provider's wait before answering.
	Latency time.Duration
	// Chunks is the number of content chunks in a streamed reply.
	Chunks int
	// AccessLog puts gateway.AccessLog in front of Warden's routes, as
	// warden serve does.
	AccessLog bool
	// Log receives Warden's JSON log at info level (io.Discard when nil):
	// the lines are formatted as in production, only not written out.
	Log io.Writer
}

// rig is the fake provider and the three targets in front of it, each on
// its own loopback server.
type rig struct {
	fake    *providertest.Handler
	targets []target // direct, bare proxy, Warden

	// providerKey and virtualKey are the two credentials in play; tests
	// check that neither reaches any output.
	providerKey string
	virtualKey  string

	stop    context.CancelFunc
	closers []func() error
	wg      sync.WaitGroup
}

// sameServerLimits gives every loopback server Warden's production
// server limits, so that the targets differ only in their handlers.
func sameServerLimits(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: gateway.DefaultReadHeaderTimeout,
		ReadTimeout:       gateway.DefaultReadTimeout,
		IdleTimeout:       gateway.DefaultIdleTimeout,
		MaxHeaderBytes:    gateway.DefaultMaxHeaderBytes,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
}

// serveLoopback serves h on 127.0.0.1 with a free port and returns its
// base URL.
func (r *rig) serveLoopback(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen on loopback: %w", err)
	}
	srv := sameServerLimits(h)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_ = srv.Serve(ln)
	}()
	r.closers = append(r.closers, srv.Close)
	return "http://" + ln.Addr().String(), nil
}

// startRig starts the fake provider, a bare reverse proxy and Warden.
// Close releases everything, the temporary data directory included.
func startRig(ctx context.Context, o rigOptions) (_ *rig, err error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	ctx, stop := context.WithCancel(ctx)
	r := &rig{stop: stop, providerKey: "sk-bench-" + rand.Text()}
	defer func() {
		if err != nil {
			_ = r.Close()
		}
	}()

	r.fake = providertest.NewHandler(providertest.Options{Key: r.providerKey, Latency: o.Latency, Chunks: o.Chunks})
	r.closers = append(r.closers, func() error { r.fake.Close(); return nil })
	fakeURL, err := r.serveLoopback(r.fake)
	if err != nil {
		return nil, err
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(recordResetEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.fake.Reset()
			}
		}
	}()

	bare, err := bareProxy(fakeURL, r.providerKey)
	if err != nil {
		return nil, err
	}
	bareURL, err := r.serveLoopback(bare)
	if err != nil {
		return nil, err
	}
	wardenURL, err := r.startWarden(ctx, fakeURL, o)
	if err != nil {
		return nil, err
	}
	const path = "/v1/chat/completions"
	r.targets = []target{
		{name: targetDirect, url: fakeURL + path, auth: "Bearer " + r.providerKey},
		{name: targetBare, url: bareURL + path, auth: "Bearer " + r.providerKey},
		{name: targetWarden, url: wardenURL + path, auth: "Bearer " + r.virtualKey},
	}
	return r, nil
}

// bareProxy is the least a Go gateway can do: rewrite the URL, put the
// provider key in, stream through. Its transport's pool matches the one
// gateway.NewClient builds, so that connection reuse is not what differs.
func bareProxy(upstream, key string) (http.Handler, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("bare proxy: upstream URL %q: %w", upstream, err)
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Header.Set("Authorization", "Bearer "+key)
		},
		FlushInterval: -1,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	// Without full duplex, net/http closes the inbound body as soon as the
	// response headers go out, and the transport's last read of it (the
	// check that it was not longer than declared) then fails and tears
	// down the upstream connection mid-stream (Go issue 40747). Warden
	// reads the body before forwarding, so it never meets this.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		rp.ServeHTTP(w, r)
	}), nil
}

// startWarden wires Warden as internal/cli does for warden serve (see
// buildDataPlane and serve there): a SQLite store and an unlocked vault in
// a fresh data directory, the provider key as a vault secret resolved
// through vault.Resolver, a key manager whose pepper lives in the vault
// and whose cache is kept fresh by Run, the router with the default
// routing options, and gateway.Serve with RequestID outermost. It creates
// one virtual key and returns the server's base URL.
func (r *rig) startWarden(ctx context.Context, fakeURL string, o rigOptions) (string, error) {
	cfg := config.Default()
	logger := slog.New(slog.NewJSONHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelInfo}))

	dir, err := os.MkdirTemp("", "warden-bench-")
	if err != nil {
		return "", fmt.Errorf("make a data directory: %w", err)
	}
	r.closers = append(r.closers, func() error { return os.RemoveAll(dir) })
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		return "", fmt.Errorf("open the store: %w", err)
	}
	r.closers = append(r.closers, db.Close)
	noEnv := func(string) (string, bool) { return "", false }
	src, err := vault.ResolveKeySource(noEnv, dir)
	if err != nil {
		return "", fmt.Errorf("master key: %w", err)
	}
	v, err := vault.Open(ctx, vault.Options{Store: db, Keys: src, DataDir: dir, Logger: logger})
	if err != nil {
		return "", fmt.Errorf("open the vault: %w", err)
	}
	r.closers = append(r.closers, v.Close)

	pk := secret.FromString(r.providerKey)
	_, err = v.Set(ctx, providerSecretName, pk)
	pk.Destroy()
	if err != nil {
		return "", fmt.Errorf("store the provider key: %w", err)
	}
	pepper, err := newPepper(ctx, v)
	if err != nil {
		return "", err
	}
	km, err := keys.NewManager(keys.Options{Store: db, Pepper: pepper, Logger: logger, PollInterval: cfg.Keys.PollInterval})
	pepper.Destroy()
	if err != nil {
		return "", fmt.Errorf("key manager: %w", err)
	}
	// Run before Create and the first request, and stop it before the store
	// closes (closers run in reverse), as serve does.
	runDone := make(chan struct{})
	go func() { defer close(runDone); km.Run(ctx) }()
	r.closers = append(r.closers, func() error { r.stop(); <-runDone; return nil })
	if err := km.Poll(ctx); err != nil {
		return "", err
	}
	_, vk, err := km.Create(ctx, keys.Spec{Name: "bench"})
	if err != nil {
		return "", err
	}
	r.virtualKey = vk.RevealString()
	vk.Destroy()

	ad, err := provider.New(provider.Config{Name: "fake", Type: provider.OpenAI, BaseURL: fakeURL + "/v1"})
	if err != nil {
		return "", fmt.Errorf("provider adapter: %w", err)
	}
	res := vault.NewResolver(v, noEnv, 0, logger)
	upstreams := map[string]*gateway.Upstream{
		"fake": {
			Adapter: ad,
			Key: func(ctx context.Context) (secret.Secret, error) {
				return res.Resolve(ctx, "secret", providerSecretName)
			},
			Client: gateway.NewClient(gateway.Timeouts{}),
			Total:  gateway.DefaultTimeouts.Total,
		},
	}
	rc := cfg.Routing
	router, err := route.New(map[string]route.Model{
		benchModel: {Deployments: []route.Deployment{{Provider: "fake", Model: benchModel}}},
	}, route.Options{
		MaxRetries:      rc.MaxRetries,
		BaseDelay:       rc.BackoffBase,
		MaxDelay:        rc.BackoffMax,
		MaxTotal:        rc.MaxTotal,
		BreakerFailures: rc.BreakerFailures,
		BreakerCooldown: rc.BreakerCooldown,
	})
	if err != nil {
		return "", err
	}
	// The policy is what `warden serve` builds: budgets and usage in the
	// same SQLite store, limits and the throttle in memory.
	budgets, err := meter.NewBudgets(meter.BudgetsOptions{Ledger: db})
	if err != nil {
		return "", err
	}
	throttle, err := limit.NewAuthThrottle(limit.AuthThrottleConfig{Logger: logger})
	if err != nil {
		return "", err
	}
	usage, err := meter.NewRecorder(meter.RecorderOptions{Store: db, Logger: logger})
	if err != nil {
		return "", err
	}
	r.closers = append(r.closers, func() error { return usage.Close(context.Background()) })
	// The guardrails of a default configuration: detectors on prompts and
	// answers, the heuristic injection scorer.
	scorer := injection.NewDefault(injection.Options{})
	g, err := guard.New(guard.Options{
		PII:     detect.NewPII(detect.PIIOptions{}),
		Secrets: detect.NewSecrets(detect.SecretsOptions{}),
		Injection: guard.ScorerFunc(func(ctx context.Context, text string) (float64, error) {
			r, err := scorer.Score(ctx, text)
			return r.Score, err
		}),
	})
	if err != nil {
		return "", err
	}
	// The call observers of warden serve: audit log, metrics, anomalies.
	signer, err := audit.NewEd25519Signer(make([]byte, 32))
	if err != nil {
		return "", err
	}
	auditLog, err := audit.NewWriter(audit.WriterOptions{Store: db, Signer: signer, Logger: logger, FlushInterval: 20 * time.Millisecond, BatchSize: 500})
	if err != nil {
		return "", err
	}
	r.closers = append(r.closers, func() error { return auditLog.Close(context.Background()) })
	detector, err := anomaly.New(anomaly.Config{Sink: discardAlerts{}, Logger: logger})
	if err != nil {
		return "", err
	}
	r.closers = append(r.closers, func() error { detector.Close(); return nil })
	m := metrics.New(metrics.Options{Models: []string{benchModel}, Providers: []string{"fake"}})
	gw, err := gateway.New(gateway.Options{
		Observers:     []gateway.Observer{feed.Audit(auditLog, logger, false), feed.Metrics(m), feed.Anomaly(detector)},
		Guardrails:    &gateway.Guardrails{Guard: g, Policy: func(string, string, string) guard.Policy { return guard.Default() }},
		Auth:          auth.Chain(auth.VirtualKeys{Keys: km, Logger: logger}),
		AnthropicAuth: auth.Chain(auth.VirtualKeys{Keys: km, AllowXAPIKey: true, Logger: logger}),
		Router:        router,
		Upstreams:     upstreams,
		MaxBodyBytes:  cfg.Server.MaxBodyBytes,
		Logger:        logger,
		Policy: &gateway.Policy{
			Directory:    gateway.CachedDirectory(km, time.Second, nil),
			Limiter:      limit.NewMemory(limit.MemoryOptions{}),
			Concurrency:  limit.NewMemoryConcurrency(),
			Pricing:      meter.DefaultTable(),
			Budgets:      budgets,
			Usage:        usage,
			AuthThrottle: throttle,
		},
	})
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.Handle("/", gw)
	health := gateway.Health([]gateway.Check{{Name: "store", Func: db.Ping}, {Name: "vault", Func: v.Check}}, logger)
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /readyz", health)
	var h http.Handler = mux
	if o.AccessLog {
		h = gateway.AccessLog(logger)(h)
	}
	h = gateway.RequestID(h)

	addr := make(chan net.Addr, 1)
	served := make(chan error, 1)
	srvCtx, srvStop := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		served <- gateway.Serve(srvCtx, gateway.ServerOptions{
			Addr:            "127.0.0.1:0",
			ShutdownTimeout: time.Second,
			Logger:          logger,
			OnListen:        func(a net.Addr) { addr <- a },
		}, h)
	}()
	// Shut the server down before the key manager and the store.
	r.closers = append(r.closers, func() error {
		srvStop()
		if err := <-served; err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return nil
	})
	select {
	case a := <-addr:
		return "http://" + a.String(), nil
	case err := <-served:
		served <- err // for the closer
		return "", fmt.Errorf("start warden: %w", err)
	}
}

// newPepper stores a fresh HMAC key for virtual key hashes in the vault
// and reads back version 1, as warden does on first start.
func newPepper(ctx context.Context, v *vault.Vault) (secret.Secret, error) {
	b := make([]byte, keys.MinPepperLen)
	_, _ = rand.Read(b) // never fails since Go 1.24
	fresh := secret.New(b)
	clear(b)
	_, err := v.Set(ctx, pepperSecretName, fresh)
	fresh.Destroy()
	if err != nil {
		return secret.Secret{}, fmt.Errorf("store the key pepper: %w", err)
	}
	p, err := v.Get(ctx, pepperSecretName, 1)
	if err != nil {
		return secret.Secret{}, fmt.Errorf("read the key pepper: %w", err)
	}
	return p, nil
}

// target returns the named target.
func (r *rig) target(name string) target {
	for _, t := range r.targets {
		if t.name == name {
			return t
		}
	}
	panic("unknown target " + name)
}

// Close stops every server and removes the data directory.
func (r *rig) Close() error {
	r.stop()
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i]())
	}
	r.wg.Wait()
	return errors.Join(errs...)
}

// discardAlerts drops what the anomaly detector raises: the harness
// measures the detector's cost, not delivery.
type discardAlerts struct{}

func (discardAlerts) Send(alert.Alert) {}
