package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"sync/atomic"
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
	"github.com/wardenproject/warden/internal/monitor/tracing"
	"github.com/wardenproject/warden/internal/provider"
	"github.com/wardenproject/warden/internal/route"
	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/vault"
)

// defaultBaseURLs are the public endpoints used when a provider of a known
// type has no base_url.
var defaultBaseURLs = map[string]string{
	provider.OpenAI:      "https://api.openai.com/v1",
	provider.Anthropic:   "https://api.anthropic.com",
	provider.HuggingFace: "https://api-inference.huggingface.co",
	provider.Google:      "https://generativelanguage.googleapis.com",
}

// dataPlane is everything the gateway needs, built from configuration.
type dataPlane struct {
	gateway *gateway.Gateway
	keys    *keys.Manager
	// usage writes usage records in batches; Close flushes them.
	usage *meter.Recorder
	// auth, router and authThrottle are shared with the admin API, so
	// that a caller authenticates the same way on both planes, failures
	// count together, and breaker states are the gateway's own.
	auth         auth.Authenticator
	router       *route.Router
	authThrottle *limit.AuthThrottle
	// metrics counts every call; served at /metrics.
	metrics *metrics.Metrics
	// detector watches calls for misuse; alerts stores and delivers what
	// it raises. Both are closed at shutdown.
	detector *anomaly.Detector
	alerts   *alert.Dispatcher
	// audit records every call; Close writes the queue and a final
	// signed checkpoint.
	audit *audit.Writer
	// stopTracing flushes and stops span export.
	stopTracing func(context.Context) error
}

// buildDataPlane wires providers, models, keys and the gateway from cfg.
// Everything is checked here, at start: a provider whose key cannot be
// resolved stops the server with a message that says how to fix it.
func (a *app) buildDataPlane(ctx context.Context, cfg *config.Config, s *session, log *slog.Logger) (*dataPlane, error) {
	res := vault.NewResolver(s.vault, a.lookup, 0, log)
	upstreams := map[string]*gateway.Upstream{}
	public := map[string]bool{}
	var problems []error
	for _, name := range sortedNames(cfg.Providers) {
		p := cfg.Providers[name]
		base := p.BaseURL
		if base == "" {
			base = defaultBaseURLs[p.Type]
		}
		ad, err := provider.New(provider.Config{Name: name, Type: p.Type, BaseURL: base, Headers: p.Headers, AzureAPIVersion: p.AzureAPIVersion})
		if err != nil {
			problems = append(problems, fmt.Errorf("provider %s: %w", name, err))
			continue
		}
		refs := p.APIKeys
		if p.APIKey != "" {
			refs = []string{p.APIKey}
		}
		parsed := make([]config.Ref, 0, len(refs))
		for _, r := range refs {
			ref, err := config.ParseRef(r)
			if err != nil {
				problems = append(problems, fmt.Errorf("provider %s: %w", name, err))
				continue
			}
			if _, err := res.Resolve(ctx, ref.Scheme, ref.Name); err != nil {
				hint := ""
				if ref.Scheme == "secret" {
					hint = fmt.Sprintf("; store it with: warden secrets set %s", ref.Name)
				}
				problems = append(problems, fmt.Errorf("provider %s: api key %s: %w%s", name, ref, err, hint))
				continue
			}
			parsed = append(parsed, ref)
		}
		t := gateway.Timeouts{Connect: p.Timeouts.Connect, FirstByte: p.Timeouts.FirstByte, Total: p.Timeouts.Total, StreamIdle: p.Timeouts.StreamIdle}
		total := t.Total
		if total <= 0 {
			total = gateway.DefaultTimeouts.Total
		}
		upstreams[name] = &gateway.Upstream{
			Adapter:    ad,
			Key:        keyRing(res, parsed),
			Client:     gateway.NewClient(t),
			Total:      total,
			StreamIdle: t.StreamIdle,
		}
		if p.Public {
			public[name] = true
			log.Warn("pass-through route is public: anyone who can reach warden can call it without a key", "provider", name, "route", "/proxy/"+name+"/")
		}
	}
	models := map[string]route.Model{}
	for name, m := range cfg.Models {
		var deps []route.Deployment
		for _, d := range m.Resolved(name) {
			deps = append(deps, route.Deployment{Provider: d.Provider, Model: d.Model, Weight: d.Weight})
		}
		models[name] = route.Model{Deployments: deps, Fallbacks: m.Fallbacks}
	}
	rc := cfg.Routing
	retries := rc.MaxRetries
	if retries == 0 {
		retries = route.NoRetries
	}
	router, err := route.New(models, route.Options{
		MaxRetries:      retries,
		BaseDelay:       rc.BackoffBase,
		MaxDelay:        rc.BackoffMax,
		MaxTotal:        rc.MaxTotal,
		BreakerFailures: rc.BreakerFailures,
		BreakerCooldown: rc.BreakerCooldown,
	})
	if err != nil {
		problems = append(problems, fmt.Errorf("models: %w", err))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("cannot start the gateway:\n%w", errors.Join(problems...))
	}

	km, err := keyManager(ctx, s, log, cfg.Keys.PollInterval)
	if err != nil {
		return nil, err
	}
	var trusted []netip.Prefix
	trusted = append(trusted, cfg.Server.TrustedPrefixes()...)
	openaiAuth := []auth.Authenticator{auth.VirtualKeys{Keys: km, Logger: log}}
	anthropicAuth := []auth.Authenticator{auth.VirtualKeys{Keys: km, AllowXAPIKey: true, Logger: log}}
	if o := cfg.Auth.OIDC; o.Issuer != "" {
		oidc, err := auth.NewOIDC(auth.OIDCOptions{
			Issuer: o.Issuer, Audience: []string{o.Audience}, RoleClaim: o.RoleClaim, TeamClaim: o.TeamClaim,
			UserClaim: o.UserClaim, DefaultRole: auth.Role(o.DefaultRole), AllowedModels: o.AllowedModels,
			Leeway: o.Leeway, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("auth.oidc: %w", err)
		}
		openaiAuth = append(openaiAuth, oidc)
		anthropicAuth = append(anthropicAuth, oidc)
	}
	alerts, detector, err := a.buildMonitor(ctx, cfg, s, km, log)
	if err != nil {
		return nil, err
	}
	policy, usage, err := buildPolicy(cfg, s, km, log, detector)
	if err != nil {
		alerts.Close(context.Background())
		return nil, err
	}
	guardrails, err := buildGuardrails(cfg.Guardrails)
	if err != nil {
		_ = usage.Close(context.Background())
		return nil, err
	}
	tp, stopTracing, err := tracing.Setup(ctx, a.lookup, Version)
	if err != nil {
		return nil, err
	}
	m := metrics.New(metrics.Options{Models: router.Models(), Providers: sortedNames(cfg.Providers), Deployments: deploymentIDs(router), Version: Version})
	go feed.BreakerStates(ctx, m, deploymentIDs(router), router.BreakerState, 5*time.Second)
	signer, err := auditSigner(ctx, s.vault)
	if err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	auditLog, err := audit.NewWriter(audit.WriterOptions{
		Store: s.db, Signer: signer, QueueSize: cfg.Audit.QueueSize, Policy: audit.Policy(cfg.Audit.QueuePolicy), Logger: log,
		// Waiting a moment for a batch to fill turns many tiny transactions
		// into few; it widens the crash window by as much (see the SIGKILL test).
		FlushInterval: 20 * time.Millisecond, BatchSize: 500,
		OnDrop: func() {
			m.AuditDropped(1)
			// The dispatcher folds repeats within its window into one alert.
			alerts.Send(alert.Alert{
				ID: alert.NewID(), Time: time.Now(), Rule: "audit_dropped", Severity: alert.Critical, Response: alert.ResponseAlert,
				Subject: alert.Subject{Kind: "system", ID: "audit"},
				Message: "audit records are being dropped: the write queue is full (audit.queue_policy: drop)",
			})
		},
	})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	gw, err := gateway.New(gateway.Options{
		Tracer:         tp.Tracer("warden"),
		Observers:      []gateway.Observer{feed.Audit(auditLog, log, cfg.Audit.Payloads), feed.Metrics(m), feed.Anomaly(detector)},
		Auth:           auth.Chain(openaiAuth...),
		AnthropicAuth:  auth.Chain(anthropicAuth...),
		Policy:         policy,
		Guardrails:     guardrails,
		Router:         router,
		Upstreams:      upstreams,
		PublicRoutes:   public,
		MaxBodyBytes:   cfg.Server.MaxBodyBytes,
		TrustedProxies: trusted,
		Logger:         log,
	})
	if err != nil {
		_ = usage.Close(context.Background())
		return nil, err
	}
	return &dataPlane{gateway: gw, keys: km, usage: usage, metrics: m, stopTracing: stopTracing, alerts: alerts, detector: detector, audit: auditLog,
		auth: auth.Chain(openaiAuth...), router: router, authThrottle: policy.AuthThrottle}, nil
}

// directoryTTL bounds how long a running server uses a team's or user's
// limits and budget after an administrator changed them.
const directoryTTL = time.Second

// buildPolicy wires what the admission stage enforces: rate and
// concurrency limits in memory, budgets and usage in the store, the price
// table with its overrides, and the failed-authentication throttle.
func buildPolicy(cfg *config.Config, s *session, km *keys.Manager, log *slog.Logger, detector *anomaly.Detector) (*gateway.Policy, *meter.Recorder, error) {
	prices, err := pricingTable(cfg, s)
	if err != nil {
		return nil, nil, err
	}
	budgets, err := meter.NewBudgets(meter.BudgetsOptions{
		Ledger:         s.db,
		ReservationTTL: cfg.Budgets.ReservationTTL,
		OnThreshold: func(e meter.ThresholdEvent) {
			log.Warn("budget threshold reached", "account", e.Label, "percent", e.Percent,
				"spent", e.Spent.String(), "limit", e.Limit.String(), "period", string(e.Period))
			detector.BudgetThreshold(e.Account.String(), e.Label, e.Percent, int64(e.Spent), int64(e.Limit))
		},
	})
	if err != nil {
		return nil, nil, err
	}
	af := cfg.Limits.AuthFailures
	blockAfter := af.BlockAfter
	if blockAfter == 0 {
		blockAfter = math.MaxInt32 // blocking off: only the slow-down applies
	}
	throttle, err := limit.NewAuthThrottle(limit.AuthThrottleConfig{
		SlowAfter: af.SlowAfter, BlockAfter: blockAfter, Window: af.Window, BlockFor: af.BlockFor, MaxDelay: af.MaxDelay, Logger: log,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("limits.auth_failures: %w", err)
	}
	usage, err := meter.NewRecorder(meter.RecorderOptions{Store: s.db, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return &gateway.Policy{
		Directory:    gateway.CachedDirectory(km, directoryTTL, nil),
		Limiter:      limit.NewMemory(limit.MemoryOptions{}),
		Concurrency:  limit.NewMemoryConcurrency(),
		Pricing:      prices,
		Budgets:      budgets,
		Usage:        usage,
		AuthThrottle: throttle,
	}, usage, nil
}

// pricingTable is the embedded price table, with the file saved by
// `warden pricing update` over it and the configuration's pricing:
// overrides over both.
func pricingTable(cfg *config.Config, s *session) (*meter.Table, error) {
	table := meter.DefaultTable()
	saved, err := loadSavedPricing(s.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if saved != nil {
		table = saved
	}
	if len(cfg.Pricing) == 0 {
		return table, nil
	}
	overrides := map[string]meter.Override{}
	for model, p := range cfg.Pricing {
		fields := map[string]float64{}
		for name, v := range map[string]string{
			"input_cost_per_mtok": p.InputCostPerMTok, "output_cost_per_mtok": p.OutputCostPerMTok,
			"cached_input_cost_per_mtok": p.CachedInputCostPerMTok, "cache_write_cost_per_mtok": p.CacheWriteCostPerMTok,
		} {
			if v == "" {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("pricing.%s.%s: %q is not a number", model, name, v)
			}
			fields[name] = f
		}
		o, err := meter.ParseOverride(model, fields)
		if err != nil {
			return nil, fmt.Errorf("pricing.%s: %w", model, err)
		}
		overrides[model] = o
	}
	t, err := table.With(overrides)
	if err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	return t, nil
}

// keyRing returns the provider's keys in turn, spreading load and rate
// limits across them.
func keyRing(res *vault.Resolver, refs []config.Ref) func(context.Context) (secret.Secret, error) {
	var next atomic.Uint64
	return func(ctx context.Context) (secret.Secret, error) {
		if len(refs) == 0 {
			return secret.Secret{}, nil
		}
		r := refs[(next.Add(1)-1)%uint64(len(refs))]
		return res.Resolve(ctx, r.Scheme, r.Name)
	}
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// buildGuardrails wires the detectors and the injection scorer into a
// guard, and turns the configured policies into a lookup by model, team
// and key. Every policy is merged and checked here, at start.
func buildGuardrails(c config.Guardrails) (*gateway.Guardrails, error) {
	h := injection.NewDefault(injection.Options{})
	g, err := guard.New(guard.Options{
		PII:     detect.NewPII(detect.PIIOptions{}),
		Secrets: detect.NewSecrets(detect.SecretsOptions{}),
		Injection: guard.ScorerFunc(func(ctx context.Context, text string) (float64, error) {
			r, err := h.Score(ctx, text)
			return r.Score, err
		}),
	})
	if err != nil {
		return nil, err
	}
	base := guardPolicy(c.Defaults())
	if err := base.Check(); err != nil {
		return nil, fmt.Errorf("guardrails: %w", err)
	}
	overrides := func(section string, m map[string]config.GuardPolicy) (map[string]guard.Policy, error) {
		out := make(map[string]guard.Policy, len(m))
		for name, p := range m {
			gp := guardPolicy(p)
			if err := base.Merge(gp).Check(); err != nil {
				return nil, fmt.Errorf("guardrails.%s.%s: %w", section, name, err)
			}
			out[name] = gp
		}
		return out, nil
	}
	models, err := overrides("models", c.Models)
	if err != nil {
		return nil, err
	}
	teams, err := overrides("teams", c.Teams)
	if err != nil {
		return nil, err
	}
	keyPolicies, err := overrides("keys", c.Keys)
	if err != nil {
		return nil, err
	}
	return &gateway.Guardrails{
		Guard: g,
		// A key's override beats its team's, which beats the model's.
		Policy: func(model, team, keyID string) guard.Policy {
			p := base
			if o, ok := models[model]; ok {
				p = p.Merge(o)
			}
			if o, ok := teams[team]; ok && team != "" {
				p = p.Merge(o)
			}
			if o, ok := keyPolicies[keyID]; ok && keyID != "" {
				p = p.Merge(o)
			}
			return p
		},
		Validation: guard.ValidationLimits{MaxMessages: c.Validation.MaxMessages, MaxChars: c.Validation.MaxChars, MaxTokens: c.Validation.MaxTokens},
	}, nil
}

// guardPolicy converts a configured policy; empty fields stay empty, so
// that Merge keeps the level above.
func guardPolicy(p config.GuardPolicy) guard.Policy {
	class := func(c config.GuardClass) guard.ClassPolicy {
		cp := guard.ClassPolicy{Action: guard.Action(c.Action)}
		if len(c.Types) > 0 {
			cp.Types = map[string]guard.Action{}
			for t, a := range c.Types {
				cp.Types[t] = guard.Action(a)
			}
		}
		return cp
	}
	return guard.Policy{
		PII:       class(p.PII),
		Secrets:   class(p.Secrets),
		Injection: guard.InjectionPolicy{Action: guard.Action(p.Injection.Action), Threshold: p.Injection.Threshold},
		Output:    guard.OutputPolicy{PII: class(p.Output.PII), Secrets: class(p.Output.Secrets)},
	}
}

// deploymentIDs lists every deployment of every model, for bounded
// breaker-state labels.
func deploymentIDs(r *route.Router) []string {
	seen := map[string]bool{}
	var ids []string
	for _, m := range r.Models() {
		for _, d := range r.Deployments(m) {
			if !seen[d.ID] {
				seen[d.ID] = true
				ids = append(ids, d.ID)
			}
		}
	}
	return ids
}

// buildMonitor wires alert delivery (the store and the configured
// webhooks, whose secrets are resolved now) and the anomaly detector,
// whose suspend response suspends keys through the key manager.
func (a *app) buildMonitor(ctx context.Context, cfg *config.Config, s *session, km *keys.Manager, log *slog.Logger) (*alert.Dispatcher, *anomaly.Detector, error) {
	res := vault.NewResolver(s.vault, a.lookup, 0, log)
	hooks := make([]alert.Webhook, 0, len(cfg.Alerts.Webhooks))
	for i, w := range cfg.Alerts.Webhooks {
		ref, err := config.ParseRef(w.Secret)
		if err != nil {
			return nil, nil, fmt.Errorf("alerts.webhooks[%d].secret: %w", i, err)
		}
		sec, err := res.Resolve(ctx, ref.Scheme, ref.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("alerts.webhooks[%d].secret: %w", i, err)
		}
		format := alert.FormatJSON
		if w.Format == "slack" {
			format = alert.FormatSlack
		}
		hooks = append(hooks, alert.Webhook{Name: fmt.Sprintf("webhook %d", i), URL: w.URL, Secret: sec, Format: format})
	}
	dispatcher, err := alert.New(alert.Options{Store: s.db, Webhooks: hooks, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("alerts: %w", err)
	}
	responses := map[anomaly.Rule]anomaly.Response{}
	for rule, r := range cfg.Alerts.Responses {
		responses[anomaly.Rule(rule)] = anomaly.Response(r)
	}
	detector, err := anomaly.New(anomaly.Config{
		Sink:      dispatcher,
		Logger:    log,
		Responses: responses,
		Suspend: func(ctx context.Context, keyID, reason string) error {
			log.Warn("suspending key after an alert", "key_id", keyID, "reason", reason)
			return km.Suspend(ctx, keyID)
		},
	})
	if err != nil {
		_ = dispatcher.Close(context.Background())
		return nil, nil, fmt.Errorf("alerts.responses: %w", err)
	}
	return dispatcher, detector, nil
}
