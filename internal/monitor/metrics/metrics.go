// Package metrics exports Warden's Prometheus metrics: request counts and
// latencies, tokens and cost, refusals by the limits, budgets, auth and
// guardrails, routing retries and breaker states, and the audit queue.
//
// Callers record through typed methods, never through raw label values, so
// every label is bounded by construction: a model outside the configured
// public models becomes "other", a route is an operation name and never a
// path, and nothing is labelled by key, user or team. An attacker who
// sends ten thousand invented model names adds to one series, and a key
// pasted into the model field never reaches the scrape output.
//
// Each Metrics has its own registry, not the client library's global one,
// so that tests and several gateways in one process do not share counts.
package metrics

import (
	"runtime"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/detect"
)

// DefaultNamespace prefixes every Warden metric name.
const DefaultNamespace = "warden"

// Buckets are the latency histogram bounds in seconds. LLM calls range
// from a few milliseconds (a cached embedding, a refusal) to minutes (a
// long generation), so the buckets span 5ms to 120s, roughly doubling.
var Buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120}

// Bounds on the configured label sets; they keep the packed series keys
// within 64 bits and are far above any real configuration.
const (
	maxModels      = 1<<20 - 1
	maxProviders   = 1<<12 - 1
	maxGuardTypes  = 1<<12 - 1
	maxDeployments = 1 << 12
)

// codes are the apperr codes used as the code label, after "ok". A code
// added to apperr and not here is exported as "other" until it is added.
var codes = []apperr.Code{
	apperr.Invalid, apperr.Unauthenticated, apperr.Forbidden, apperr.NotFound,
	apperr.TooLarge, apperr.RateLimited, apperr.BudgetExceeded, apperr.Upstream,
	apperr.Unavailable, apperr.UpstreamTimeout, apperr.Internal,
	apperr.ContentBlocked, apperr.PromptInjection,
}

// codeOK is the code label of a call that returned no error.
const codeOK = "ok"

// Options configures New. The label allowlists are configuration, so the
// number of series is known at start.
type Options struct {
	// Namespace prefixes metric names; empty means DefaultNamespace. It
	// must be a valid metric name prefix.
	Namespace string
	// Models are the public model names (those callers may ask for).
	// Any other model, including a served model behind a public alias
	// that is not itself public, is labelled "other".
	Models []string
	// Providers are the configured provider names; others are "other".
	Providers []string
	// Deployments are the route deployment ids whose breaker state is
	// exported. Their gauges start at closed, so a dashboard shows every
	// deployment from the first scrape; states of other ids are ignored.
	Deployments []string
	// GuardTypes are finding types beyond the built-in detectors' (the PII
	// types, the secret rule ids and prompt_injection), such as the ids
	// of custom rules. Types in neither set are labelled "other".
	GuardTypes []string
	// Version is Warden's version, exported in build_info.
	Version string
	// AuditQueueDepth, when set, is called at each scrape for the number
	// of audit records waiting to be written. When nil the gauge is not
	// exported, rather than exported as a misleading zero.
	AuditQueueDepth func() float64
}

// Metrics records Warden's metrics into its own registry. Its methods are
// safe for concurrent use. A nil *Metrics records nothing, so that a
// component can call it unconditionally when metrics are turned off.
type Metrics struct {
	reg *prometheus.Registry

	routes, models, providers labelSet
	statuses, codes           labelSet
	guardClasses, guardTypes  labelSet
	guardActions              labelSet
	scopes, limits, reasons   labelSet

	requests    *prometheus.CounterVec
	requestsC   series[prometheus.Counter]
	duration    *prometheus.HistogramVec
	durationC   series[prometheus.Observer]
	upstream    *prometheus.HistogramVec
	upstreamC   series[prometheus.Observer]
	tokens      *prometheus.CounterVec
	tokensC     series[prometheus.Counter]
	cost        *prometheus.CounterVec
	costC       series[prometheus.Counter]
	rateLimited *prometheus.CounterVec
	rateLimitC  series[prometheus.Counter]
	budget      *prometheus.CounterVec
	budgetC     series[prometheus.Counter]
	authFailed  *prometheus.CounterVec
	authFailedC series[prometheus.Counter]
	authBlocks  prometheus.Counter
	verdicts    *prometheus.CounterVec
	verdictsC   series[prometheus.Counter]
	retries     *prometheus.CounterVec
	retriesC    series[prometheus.Counter]
	fallbacks   *prometheus.CounterVec
	fallbacksC  series[prometheus.Counter]
	breakers    map[string]prometheus.Gauge
	auditDrops  prometheus.Counter
}

// New builds the metrics and registers them, with the Go runtime and
// process collectors, in a fresh registry. It panics if o.Namespace is not
// a valid metric name prefix: that is a programming error, like a bad
// regular expression literal.
func New(o Options) *Metrics {
	ns := o.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	codeNames := make([]string, 0, len(codes)+1)
	codeNames = append(codeNames, codeOK)
	for _, c := range codes {
		codeNames = append(codeNames, string(c))
	}
	m := &Metrics{
		reg:          prometheus.NewRegistry(),
		routes:       newLabelSet(routes, len(routes)),
		models:       newLabelSet(append([]string{None}, o.Models...), maxModels),
		providers:    newLabelSet(o.Providers, maxProviders),
		statuses:     newLabelSet(statusClasses[1:], len(statusClasses)),
		codes:        newLabelSet(codeNames, len(codeNames)),
		guardClasses: newLabelSet(guardClasses, len(guardClasses)),
		guardTypes:   newLabelSet(append(builtinGuardTypes(), o.GuardTypes...), maxGuardTypes),
		guardActions: newLabelSet(guardActions, len(guardActions)),
		scopes:       newLabelSet(scopes, len(scopes)),
		limits:       newLabelSet(limits, len(limits)),
		reasons:      newLabelSet(authReasons, len(authReasons)),
		breakers:     make(map[string]prometheus.Gauge),
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help})
		m.reg.MustRegister(c)
		return c
	}
	histogramVec := func(name, help string, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, Buckets: Buckets}, labels)
		m.reg.MustRegister(v)
		return v
	}

	m.requests = counterVec("requests_total",
		"Data-plane calls by operation, public model, provider, HTTP status class and Warden error code (ok when the call succeeded).",
		"route", "model", "provider", "status_class", "code")
	m.duration = histogramVec("request_duration_seconds",
		"Time from the request's arrival to its last byte, refusals included.",
		"route", "model")
	m.upstream = histogramVec("upstream_duration_seconds",
		"Time of one upstream attempt, from sending the request to the end of the response.",
		"provider")
	m.tokens = counterVec("tokens_total",
		"Tokens billed, by kind: input (all prompt tokens), output, and cached (the part of input read from the provider's prompt cache).",
		"model", "kind")
	m.cost = counterVec("cost_usd_total", "Cost of calls in US dollars, as priced by Warden.", "model")
	m.rateLimited = counterVec("rate_limit_refusals_total", "Calls refused by a rate or concurrency limit.", "scope", "limit")
	m.budget = counterVec("budget_refusals_total", "Calls refused because a budget was spent.", "scope")
	m.authFailed = counterVec("auth_failures_total", "Requests whose credentials were refused, by reason.", "reason")
	m.authBlocks = counter("auth_blocks_total", "Client addresses blocked after repeated authentication failures.")
	m.verdicts = counterVec("guard_verdicts_total",
		"Guardrail verdicts: one per class and finding type in a checked request or answer, with the action taken.",
		"class", "type", "action")
	m.retries = counterVec("retries_total", "Upstream attempts retried, by the provider that failed.", "provider")
	m.fallbacks = counterVec("fallbacks_total", "Calls that fell back to another model, by the model asked for.", "model")
	breaker := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "breaker_state",
		Help: "Circuit breaker state per deployment: 0 closed, 1 half-open, 2 open."}, []string{"deployment"})
	m.reg.MustRegister(breaker)
	for _, d := range newLabelSet(o.Deployments, maxDeployments).values[1:] {
		m.breakers[d] = breaker.WithLabelValues(d)
	}
	m.auditDrops = counter("audit_dropped_total", "Audit records dropped because the queue was full.")
	if o.AuditQueueDepth != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "audit_queue_depth",
			Help: "Audit records waiting to be written."}, o.AuditQueueDepth))
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "build_info",
		Help: "Always 1; the labels say which build is running."}, []string{"version", "go_version"})
	m.reg.MustRegister(build)
	build.WithLabelValues(printable(o.Version), runtime.Version()).Set(1)

	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// builtinGuardTypes lists every finding type the built-in detectors report.
func builtinGuardTypes() []string {
	types := detect.PIITypes()
	for _, r := range detect.Rules() {
		types = append(types, r.ID)
	}
	return append(types, injectionType)
}

// printable returns v if the client library accepts it as a label value,
// and "unknown" otherwise (the version comes from build flags).
func printable(v string) string {
	if v == "" || len(v) > maxLabelLen || !utf8.ValidString(v) {
		return "unknown"
	}
	return v
}

// Gatherer returns the registry, for a caller that serves or checks the
// metrics some other way than Handler. Recording goes through the typed
// methods only.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Request is one finished data-plane call.
type Request struct {
	// Route is the operation name ("chat.completions", "messages",
	// "passthrough", "models"), never the URL path.
	Route string
	// Model is the public model asked for; empty when the call named none.
	Model string
	// Provider served the call (or was asked for on a pass-through route).
	Provider string
	// Status is the HTTP status sent. Zero means 200 when Err is nil and
	// the status of Err otherwise.
	Status int
	// Err is the error the call ended with, or nil. Its apperr code is
	// the code label; an error that is not an *apperr.Error counts as
	// internal_error, as the gateway renders it.
	Err error
	// Duration is the whole call, from arrival to the last byte.
	Duration time.Duration
}

// ObserveRequest counts a finished call and records its duration.
func (m *Metrics) ObserveRequest(r Request) {
	if m == nil {
		return
	}
	route, model := m.routes.index(r.Route), m.modelIndex(r.Model)
	code := m.codes.index(codeOK)
	status := r.Status
	if r.Err != nil {
		e := apperr.From(r.Err)
		code = m.codes.index(string(e.Code))
		if status == 0 {
			status = e.HTTPStatus()
		}
	} else if status == 0 {
		status = 200
	}
	prov, class := m.providers.index(r.Provider), statusClass(status)

	k := (((uint64(route)*m.models.size()+uint64(model))*m.providers.size()+uint64(prov))*m.statuses.size()+uint64(class))*m.codes.size() + uint64(code)
	c, ok := m.requestsC.load(k)
	if !ok {
		c = m.requestsC.store(k, m.requests.WithLabelValues(m.routes.values[route], m.models.values[model],
			m.providers.values[prov], m.statuses.values[class], m.codes.values[code]))
	}
	c.Inc()

	k = uint64(route)*m.models.size() + uint64(model)
	h, ok := m.durationC.load(k)
	if !ok {
		h = m.durationC.store(k, m.duration.WithLabelValues(m.routes.values[route], m.models.values[model]))
	}
	h.Observe(r.Duration.Seconds())
}

// ObserveUpstream records the duration of one upstream attempt.
func (m *Metrics) ObserveUpstream(provider string, d time.Duration) {
	if m == nil {
		return
	}
	p := m.providers.index(provider)
	h, ok := m.upstreamC.load(uint64(p))
	if !ok {
		h = m.upstreamC.store(uint64(p), m.upstream.WithLabelValues(m.providers.values[p]))
	}
	h.Observe(d.Seconds())
}

// Token kinds, in the order of the tokens_total kind label.
var tokenKinds = [...]string{"input", "output", "cached"}

// AddTokens counts the tokens of a call. Input counts all prompt tokens;
// cached is the part of input read from the provider's prompt cache, so
// it is included in input too. Negative counts are ignored.
func (m *Metrics) AddTokens(model string, input, output, cached int64) {
	if m == nil {
		return
	}
	mi := m.modelIndex(model)
	for kind, n := range [...]int64{input, output, cached} {
		if n <= 0 {
			continue
		}
		k := uint64(mi)*uint64(len(tokenKinds)) + uint64(kind)
		c, ok := m.tokensC.load(k)
		if !ok {
			c = m.tokensC.store(k, m.tokens.WithLabelValues(m.models.values[mi], tokenKinds[kind]))
		}
		c.Add(float64(n))
	}
}

// AddCost adds the cost of a call, given in nano-dollars (meter.Amount).
// The counter is in dollars; a float64 keeps sums exact to the nano-dollar
// up to about nine million dollars. Negative amounts (refunds) are ignored
// because a counter only grows.
func (m *Metrics) AddCost(model string, nanoUSD int64) {
	if m == nil || nanoUSD <= 0 {
		return
	}
	mi := m.modelIndex(model)
	c, ok := m.costC.load(uint64(mi))
	if !ok {
		c = m.costC.store(uint64(mi), m.cost.WithLabelValues(m.models.values[mi]))
	}
	c.Add(float64(nanoUSD) / 1e9)
}

// RateLimitRefusal counts a call refused by the limit of the given kind on
// the given scope.
func (m *Metrics) RateLimitRefusal(scope Scope, limit Limit) {
	if m == nil {
		return
	}
	s, l := m.scopes.index(string(scope)), m.limits.index(string(limit))
	k := uint64(s)*m.limits.size() + uint64(l)
	c, ok := m.rateLimitC.load(k)
	if !ok {
		c = m.rateLimitC.store(k, m.rateLimited.WithLabelValues(m.scopes.values[s], m.limits.values[l]))
	}
	c.Inc()
}

// BudgetRefusal counts a call refused because the scope's budget is spent.
func (m *Metrics) BudgetRefusal(scope Scope) {
	if m == nil {
		return
	}
	s := m.scopes.index(string(scope))
	c, ok := m.budgetC.load(uint64(s))
	if !ok {
		c = m.budgetC.store(uint64(s), m.budget.WithLabelValues(m.scopes.values[s]))
	}
	c.Inc()
}

// AuthFailure counts a refused credential.
func (m *Metrics) AuthFailure(reason AuthReason) {
	if m == nil {
		return
	}
	r := m.reasons.index(string(reason))
	c, ok := m.authFailedC.load(uint64(r))
	if !ok {
		c = m.authFailedC.store(uint64(r), m.authFailed.WithLabelValues(m.reasons.values[r]))
	}
	c.Inc()
}

// AuthBlock counts a client address blocked after repeated failures. The
// address is not a label: it is unbounded, and the log has it.
func (m *Metrics) AuthBlock() {
	if m == nil {
		return
	}
	m.authBlocks.Inc()
}

// GuardVerdict counts one guardrail verdict (a guard.Verdict's Class, Type
// and Action).
func (m *Metrics) GuardVerdict(class, typ, action string) {
	if m == nil {
		return
	}
	c, t, a := m.guardClasses.index(class), m.guardTypes.index(typ), m.guardActions.index(action)
	k := (uint64(c)*m.guardTypes.size()+uint64(t))*m.guardActions.size() + uint64(a)
	ctr, ok := m.verdictsC.load(k)
	if !ok {
		ctr = m.verdictsC.store(k, m.verdicts.WithLabelValues(m.guardClasses.values[c], m.guardTypes.values[t], m.guardActions.values[a]))
	}
	ctr.Inc()
}

// Retry counts an upstream attempt that failed and was retried.
func (m *Metrics) Retry(provider string) {
	if m == nil {
		return
	}
	p := m.providers.index(provider)
	c, ok := m.retriesC.load(uint64(p))
	if !ok {
		c = m.retriesC.store(uint64(p), m.retries.WithLabelValues(m.providers.values[p]))
	}
	c.Inc()
}

// Fallback counts a call for model that fell back to another model.
func (m *Metrics) Fallback(model string) {
	if m == nil {
		return
	}
	mi := m.modelIndex(model)
	c, ok := m.fallbacksC.load(uint64(mi))
	if !ok {
		c = m.fallbacksC.store(uint64(mi), m.fallbacks.WithLabelValues(m.models.values[mi]))
	}
	c.Inc()
}

// SetBreakerState records a deployment's breaker state. Deployments not
// given in Options.Deployments are ignored: merging the states of several
// deployments into one "other" gauge would mean nothing.
func (m *Metrics) SetBreakerState(deployment string, s BreakerState) {
	if m == nil {
		return
	}
	if g, ok := m.breakers[deployment]; ok {
		g.Set(float64(s))
	}
}

// AuditDropped counts n audit records dropped because the queue was full.
func (m *Metrics) AuditDropped(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.auditDrops.Add(float64(n))
}

// modelIndex maps a model name to its index; an empty name is None.
func (m *Metrics) modelIndex(model string) uint32 {
	if model == "" {
		return m.models.index(None)
	}
	return m.models.index(model)
}
