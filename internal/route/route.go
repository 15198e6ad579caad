// Package route decides which upstream deployment serves a public model
// name, and how a failed call is retried, failed over to the next
// deployment or fallback model, and kept away from a failing deployment by a
// circuit breaker. It performs no I/O itself: the caller hands Do an Attempt
// that makes one upstream call.
package route

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// Defaults for the zero values in Options.
const (
	DefaultMaxRetries      = 2
	DefaultBaseDelay       = 200 * time.Millisecond
	DefaultMaxDelay        = 5 * time.Second
	DefaultMaxTotal        = 60 * time.Second
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
)

// NoRetries as Options.MaxRetries tries each deployment once, because zero
// already means "the default".
const NoRetries = -1

// MaxWeight bounds Deployment.Weight so that the sum of a model's weights
// cannot overflow.
const MaxWeight = 1_000_000

// Sentinel errors; match them with errors.Is.
var (
	// ErrUnknownModel: the public model name is not configured.
	ErrUnknownModel = errors.New("route: unknown model")
	// ErrUnavailable: every deployment of the model and of its fallbacks
	// has an open circuit breaker, so nothing was tried.
	ErrUnavailable = errors.New("route: no deployment available")
)

// Deployment is one place a model can be served: a provider and the model
// name there.
type Deployment struct {
	// ID is unique per upstream target. New fills an empty one with
	// "provider/model#n", n counting earlier entries of the same target in
	// the same public model. Deployments of different public models with the
	// same ID are one target and share one circuit breaker.
	ID       string
	Provider string
	Model    string
	// Weight is the deployment's share of first picks among the model's
	// deployments; 0 means 1.
	Weight int
}

// Model is a public model name's deployments and fallback models: other
// public model names, tried in order after all deployments failed.
// Fallbacks of fallbacks are tried too, breadth first, each model once.
type Model struct {
	Deployments []Deployment
	Fallbacks   []string
}

// Options tune retries, backoff and the circuit breakers. Zero values take
// the defaults above.
type Options struct {
	// MaxRetries is the number of retries per deployment after the first
	// try (default 2; NoRetries for none).
	MaxRetries int
	// BaseDelay and MaxDelay shape exponential backoff with full jitter:
	// before retry k (0-based) Do sleeps rand[0, min(MaxDelay,
	// BaseDelay*2^k)) (defaults 200ms, 5s).
	BaseDelay, MaxDelay time.Duration
	// MaxTotal bounds the retry machinery of one Do (default 60s): no sleep
	// and no new attempt starts past it; a sleep (or Retry-After) that would
	// overrun it moves on to the next deployment instead. It does not cut
	// an attempt short: a long stream that has started must not be killed
	// by the router, so per-attempt limits belong to the Attempt's context.
	// A deadline on Do's context bounds sleeps the same way.
	MaxTotal time.Duration
	// BreakerFailures is the number of consecutive failures of a deployment
	// that open its breaker (default 5).
	BreakerFailures int
	// BreakerCooldown is how long an open breaker stays open before it lets
	// one trial call through (default 30s). The trial's success closes the
	// breaker, its failure re-opens it. A trial that has not reported
	// within another cooldown (hung, or its caller gone) is presumed lost
	// and a new one is admitted.
	BreakerCooldown time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Sleep waits d or until ctx is done (default: a timer).
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a float in [0, 1) for jitter and weighted choice
	// (default math/rand/v2). It must be safe for concurrent use.
	Rand func() float64
}

// Retryable wraps an attempt failure that may be retried or failed over: a
// connection error (Status 0), or status 408, 429, 500, 502, 503, 504.
type Retryable struct {
	// Status is the upstream's HTTP status, 0 for a connection error.
	Status int
	// RetryAfter is the upstream's Retry-After, 0 if none.
	RetryAfter time.Duration
	// Err is the failure itself.
	Err error
}

// Error describes the failure without adding anything the attempt did not
// say.
func (e *Retryable) Error() string {
	s := "upstream connection failed"
	if e.Status != 0 {
		s = fmt.Sprintf("upstream status %d", e.Status)
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying failure.
func (e *Retryable) Unwrap() error { return e.Err }

// IsRetryableStatus reports whether an upstream HTTP status is worth
// retrying or failing over: 408, 429, 500, 502, 503, 504 and 529.
func IsRetryableStatus(status int) bool {
	switch status {
	case 408, 429, 500, 502, 503, 504,
		529: // Anthropic's "overloaded"
		return true
	}
	return false
}

// UnavailableError is returned when every deployment Do could use had an
// open circuit breaker. It matches ErrUnavailable.
type UnavailableError struct {
	// Model is the requested public model.
	Model string
	// RetryAfter is how long until the first of those breakers lets a
	// trial call through; a hint for the caller's Retry-After.
	RetryAfter time.Duration
}

// Error says what is unavailable and when to try again.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%v: every deployment of model %q (and its fallbacks) is failing and its circuit breaker is open; retry in %s", ErrUnavailable, e.Model, e.RetryAfter)
}

// Unwrap makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Unwrap() error { return ErrUnavailable }

// Attempt performs one upstream call on d. It returns nil on success (the
// response went to the caller), a *Retryable (possibly wrapped) for a
// failure worth retrying or failing over, or any other error for a failure
// that must end Do at once (a 400 from the upstream, or a response that has
// already started streaming to the caller).
type Attempt func(ctx context.Context, d Deployment) error

// Stats describe what Do did, for audit and metrics.
type Stats struct {
	// Attempts counts calls of the Attempt, Retries those that repeated a
	// call on the same deployment, Fallbacks the fallback models that got
	// at least one attempt.
	Attempts, Retries, Fallbacks int
	// Skipped counts deployments passed over because their breaker was
	// open.
	Skipped int
	// Deployment is the last one tried.
	Deployment Deployment
	// Model is the public model of the last attempt: the one that served on
	// success, which differs from the requested one after a fallback.
	Model string
}

// Router routes public model names to deployments. It is safe for
// concurrent use; only the breakers change after New.
type Router struct {
	o        Options
	models   map[string]*model
	names    []string
	breakers map[string]*breaker
}

type model struct {
	name  string
	deps  []entry
	total int // sum of weights
	// chain is this model, then its fallbacks breadth first, each once.
	chain []*model
}

type entry struct {
	d  Deployment
	br *breaker
}

// New validates the routing table and builds a Router. An empty table is
// valid (a gateway with no models answers 404 to model calls). Every problem is
// reported at once: models without deployments, deployments without
// provider or model, bad weights, clashing ids, unknown or repeated
// fallbacks, fallback cycles, and negative options.
func New(models map[string]Model, o Options) (*Router, error) {
	var problems []error
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf(format, args...))
	}
	o = withDefaults(o, bad)

	names := make([]string, 0, len(models))
	for name := range models {
		names = append(names, name)
	}
	sort.Strings(names)

	r := &Router{o: o, models: make(map[string]*model, len(models)), names: names, breakers: make(map[string]*breaker)}
	type owner struct{ model, provider, target string }
	owners := map[string]owner{}
	for _, name := range names {
		cfg := models[name]
		if name == "" {
			bad("a model has an empty name; give every model a public name")
		}
		if len(cfg.Deployments) == 0 {
			bad("model %q has no deployments; add at least one provider/model", name)
		}
		m := &model{name: name}
		seen := map[string]bool{}
		nth := map[[2]string]int{}
		for i, d := range cfg.Deployments {
			if d.Provider == "" {
				bad("model %q deployment %d has no provider", name, i)
			}
			if d.Model == "" {
				bad("model %q deployment %d has no upstream model name", name, i)
			}
			if d.Weight < 0 || d.Weight > MaxWeight {
				bad("model %q deployment %d has weight %d; use 1 to %d (0 means 1)", name, i, d.Weight, MaxWeight)
			}
			if d.Weight <= 0 || d.Weight > MaxWeight {
				d.Weight = 1
			}
			target := [2]string{d.Provider, d.Model}
			if d.ID == "" {
				d.ID = fmt.Sprintf("%s/%s#%d", d.Provider, d.Model, nth[target])
			}
			nth[target]++
			if seen[d.ID] {
				bad("model %q lists deployment %q twice; give each entry its own id", name, d.ID)
				continue
			}
			seen[d.ID] = true
			if prev, ok := owners[d.ID]; ok && (prev.provider != d.Provider || prev.target != d.Model) {
				bad("deployment id %q is %s/%s in model %q but %s/%s in model %q; one id must name one target",
					d.ID, prev.provider, prev.target, prev.model, d.Provider, d.Model, name)
				continue
			}
			owners[d.ID] = owner{name, d.Provider, d.Model}
			br, ok := r.breakers[d.ID]
			if !ok {
				br = &breaker{threshold: int32(o.BreakerFailures), cooldown: o.BreakerCooldown}
				r.breakers[d.ID] = br
			}
			m.deps = append(m.deps, entry{d: d, br: br})
			m.total += d.Weight
		}
		fb := map[string]bool{}
		for _, f := range cfg.Fallbacks {
			if _, ok := models[f]; !ok {
				bad("model %q falls back to %q, which is not a configured model", name, f)
			}
			if fb[f] {
				bad("model %q lists fallback %q twice", name, f)
			}
			fb[f] = true
		}
		r.models[name] = m
	}
	for _, c := range fallbackCycles(models, names) {
		bad("fallback cycle %s; a model must not fall back to itself, directly or through others", c)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("route: invalid routing table (%d problems):\n%w", len(problems), errors.Join(problems...))
	}
	for _, name := range names {
		r.models[name].chain = chain(r.models, models, name)
	}
	return r, nil
}

// withDefaults fills zero options and reports negative ones.
func withDefaults(o Options, bad func(string, ...any)) Options {
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	dur := func(field string, v *time.Duration, def time.Duration) {
		if *v < 0 {
			bad("option %s is %s; use a positive duration, or 0 for the default %s", field, *v, def)
		}
		if *v <= 0 {
			*v = def
		}
	}
	dur("BaseDelay", &o.BaseDelay, DefaultBaseDelay)
	dur("MaxDelay", &o.MaxDelay, DefaultMaxDelay)
	dur("MaxTotal", &o.MaxTotal, DefaultMaxTotal)
	dur("BreakerCooldown", &o.BreakerCooldown, DefaultBreakerCooldown)
	if o.BaseDelay > o.MaxDelay {
		bad("option BaseDelay %s exceeds MaxDelay %s; the backoff could never grow", o.BaseDelay, o.MaxDelay)
	}
	if o.BreakerFailures < 0 || o.BreakerFailures > 1<<30 {
		bad("option BreakerFailures is %d; use a positive count, or 0 for the default %d", o.BreakerFailures, DefaultBreakerFailures)
	}
	if o.BreakerFailures <= 0 || o.BreakerFailures > 1<<30 {
		o.BreakerFailures = DefaultBreakerFailures
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	return o
}

// fallbackCycles finds every fallback cycle, each once, written
// "a → b → a" starting from its smallest name.
func fallbackCycles(models map[string]Model, names []string) []string {
	const (
		white = iota
		grey
		black
	)
	colour := map[string]int{}
	var stack []string
	found := map[string]bool{}
	var cycles []string
	var visit func(n string)
	visit = func(n string) {
		colour[n] = grey
		stack = append(stack, n)
		for _, f := range models[n].Fallbacks {
			if _, ok := models[f]; !ok {
				continue
			}
			switch colour[f] {
			case white:
				visit(f)
			case grey:
				i := slices.Index(stack, f)
				cyc := slices.Clone(stack[i:])
				m := slices.Index(cyc, slices.Min(cyc))
				cyc = append(cyc[m:], cyc[:m]...)
				s := ""
				for _, c := range cyc {
					s += fmt.Sprintf("%q → ", c)
				}
				s += fmt.Sprintf("%q", cyc[0])
				if !found[s] {
					found[s] = true
					cycles = append(cycles, s)
				}
			}
		}
		stack = stack[:len(stack)-1]
		colour[n] = black
	}
	for _, n := range names {
		if colour[n] == white {
			visit(n)
		}
	}
	return cycles
}

// chain lists name, then its fallbacks breadth first, so that a model's own
// fallback list is used up before its fallbacks' fallbacks.
func chain(built map[string]*model, cfg map[string]Model, name string) []*model {
	out := []*model{built[name]}
	seen := map[string]bool{name: true}
	for i := 0; i < len(out); i++ {
		for _, f := range cfg[out[i].name].Fallbacks {
			if !seen[f] {
				seen[f] = true
				out = append(out, built[f])
			}
		}
	}
	return out
}

// Models returns the public model names, sorted.
func (r *Router) Models() []string { return slices.Clone(r.names) }

// Has reports whether model is a configured public model name.
func (r *Router) Has(model string) bool {
	_, ok := r.models[model]
	return ok
}

// Deployments returns a model's deployments as configured, with ids and
// weights filled in, or nil for an unknown model.
func (r *Router) Deployments(model string) []Deployment {
	m, ok := r.models[model]
	if !ok {
		return nil
	}
	out := make([]Deployment, len(m.deps))
	for i, e := range m.deps {
		out[i] = e.d
	}
	return out
}

// BreakerState reports "closed", "open" or "half-open" for a deployment id,
// or "" for an unknown id. An open breaker whose cooldown has passed reports
// "half-open": the next call will be its trial.
func (r *Router) BreakerState(id string) string {
	b, ok := r.breakers[id]
	if !ok {
		return ""
	}
	return b.stateAt(r.o.Now())
}

// outcome is what one deployment's turn in Do came to.
type outcome int

const (
	next   outcome = iota // failed or skipped: try the next deployment
	done                  // served, or an error that ends Do
	budget                // out of time: stop
)

// run is the state of one Do.
type run struct {
	ctx      context.Context
	attempt  Attempt
	start    time.Time
	deadline time.Time
	st       Stats
	last     error     // the last attempt's retryable error
	retryAt  time.Time // the earliest time a skipped breaker admits a trial
	usedNow  bool      // the current model got an attempt
	fallback bool      // the current model is a fallback
}

// Do tries the model's deployments in weighted-random order, each once,
// skipping those whose breaker is open, with retries and backoff per
// deployment (honoring Retry-After: the sleep is max(backoff,
// RetryAfter)); then each fallback model's deployments the same way.
//
// It returns nil once an attempt succeeds. A non-retryable error ends Do at
// once and is returned as is; so is ctx.Err() when ctx ends. When every
// attempt failed, the last attempt's error is returned wrapped, so that
// errors.As finds its *Retryable. When nothing could be tried because every
// breaker was open, the error is an *UnavailableError (ErrUnavailable).
func (r *Router) Do(ctx context.Context, model string, attempt Attempt) (Stats, error) {
	m, ok := r.models[model]
	if !ok {
		return Stats{Model: model}, fmt.Errorf("%w %q", ErrUnknownModel, model)
	}
	now := r.o.Now()
	run := run{ctx: ctx, attempt: attempt, start: now, deadline: now.Add(r.o.MaxTotal), st: Stats{Model: model}}
	var err error
	for i, cur := range m.chain {
		run.usedNow, run.fallback = false, i > 0
		var p picker
		p.reset(cur)
		for p.left > 0 {
			var oc outcome
			oc, err = r.turn(&run, cur, &cur.deps[p.next(cur, r.o.Rand)])
			switch oc {
			case done:
				return run.st, err
			case budget:
				return run.st, r.exhausted(&run, model)
			}
		}
	}
	return run.st, r.exhausted(&run, model)
}

// exhausted is Do's error when no attempt succeeded and none ended Do.
func (r *Router) exhausted(run *run, model string) error {
	if err := run.ctx.Err(); err != nil {
		return err
	}
	if run.last == nil {
		wait := run.retryAt.Sub(r.o.Now())
		if wait < 0 {
			wait = 0
		}
		return &UnavailableError{Model: model, RetryAfter: wait}
	}
	return fmt.Errorf("route: model %q: all %d attempts failed, the last with: %w", model, run.st.Attempts, run.last)
}

// turn is one deployment's turn: its first try and its retries.
func (r *Router) turn(run *run, m *model, e *entry) (outcome, error) {
	for retry := 0; ; retry++ {
		if err := run.ctx.Err(); err != nil {
			return done, err
		}
		// Before the first attempt no time worth a clock read has passed.
		now := run.start
		if run.st.Attempts > 0 {
			now = r.o.Now()
		}
		if run.last != nil && !now.Before(run.deadline) {
			return budget, nil
		}
		tk, ok, at := e.br.allow(now)
		if !ok {
			if retry == 0 {
				run.st.Skipped++
				if run.retryAt.IsZero() || at.Before(run.retryAt) {
					run.retryAt = at
				}
			}
			return next, nil
		}
		run.st.Attempts++
		if retry > 0 {
			run.st.Retries++
		}
		if run.fallback && !run.usedNow {
			run.st.Fallbacks++
		}
		run.usedNow = true
		run.st.Deployment, run.st.Model = e.d, m.name

		err := call(run.ctx, run.attempt, e, tk)
		if err == nil {
			e.br.success(tk)
			return done, nil
		}
		if cerr := run.ctx.Err(); cerr != nil {
			// The failure may be ours (the caller left), not the
			// deployment's.
			e.br.release(tk)
			return done, cerr
		}
		var re *Retryable
		if !errors.As(err, &re) {
			// A refused request says nothing about the deployment's health.
			e.br.release(tk)
			return done, err
		}
		run.last = err
		if opened := e.br.failure(tk, r.o.Now()); opened || retry >= r.o.MaxRetries {
			// An open breaker would refuse the retry: fail over without
			// sleeping first.
			return next, nil
		}
		wait := max(r.backoff(retry), re.RetryAfter)
		if wait >= r.remaining(run) {
			return next, nil
		}
		if err := r.o.Sleep(run.ctx, wait); err != nil {
			if cerr := run.ctx.Err(); cerr != nil {
				return done, cerr
			}
			return done, fmt.Errorf("route: waiting %s before retrying %s: %w", wait, e.d.ID, err)
		}
	}
}

// call runs the attempt and hands the breaker ticket back if the attempt
// panics, so that a half-open trial is never stranded.
func call(ctx context.Context, attempt Attempt, e *entry, tk ticket) error {
	returned := false
	defer func() {
		if !returned {
			e.br.release(tk)
		}
	}()
	err := attempt(ctx, e.d)
	returned = true
	return err
}

// remaining is the time left before MaxTotal or ctx's deadline.
func (r *Router) remaining(run *run) time.Duration {
	left := run.deadline.Sub(r.o.Now())
	if dl, ok := run.ctx.Deadline(); ok {
		left = min(left, time.Until(dl))
	}
	return left
}

// backoff is the full-jitter sleep before retry number retry (0-based).
func (r *Router) backoff(retry int) time.Duration {
	ceil := r.o.BaseDelay
	for i := 0; i < retry && ceil < r.o.MaxDelay; i++ {
		if ceil > r.o.MaxDelay/2 {
			ceil = r.o.MaxDelay
			break
		}
		ceil *= 2
	}
	ceil = min(ceil, r.o.MaxDelay)
	return time.Duration(unit(r.o.Rand()) * float64(ceil))
}

// unit forces an injected random value into [0, 1).
func unit(f float64) float64 {
	if !(f >= 0) { // also NaN
		return 0
	}
	if f >= 1 {
		return 0.9999999999999999
	}
	return f
}

// sleep is the default Options.Sleep.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// picker draws a model's deployments in weighted-random order without
// replacement, without allocating for up to 64 deployments.
type picker struct {
	used uint64
	big  []bool // only for models with more than 64 deployments
	rem  int    // weight not yet drawn
	left int    // deployments not yet drawn
}

func (p *picker) reset(m *model) {
	*p = picker{rem: m.total, left: len(m.deps)}
	if len(m.deps) > 64 {
		p.big = make([]bool, len(m.deps))
	}
}

func (p *picker) taken(i int) bool {
	if p.big != nil {
		return p.big[i]
	}
	return p.used&(1<<uint(i)) != 0
}

func (p *picker) take(m *model, i int) int {
	if p.big != nil {
		p.big[i] = true
	} else {
		p.used |= 1 << uint(i)
	}
	p.rem -= m.deps[i].d.Weight
	p.left--
	return i
}

// next draws the next deployment index; call only while p.left > 0.
func (p *picker) next(m *model, rnd func() float64) int {
	last := -1
	if p.left == 1 {
		for i := range m.deps {
			if !p.taken(i) {
				return p.take(m, i)
			}
		}
	}
	x := int(unit(rnd()) * float64(p.rem))
	for i := range m.deps {
		if p.taken(i) {
			continue
		}
		last = i
		x -= m.deps[i].d.Weight
		if x < 0 {
			return p.take(m, i)
		}
	}
	// Only float rounding gets here.
	return p.take(m, last)
}
