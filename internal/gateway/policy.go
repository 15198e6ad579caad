package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/limit"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/store"
)

// Directory finds the teams and users that keys and tokens act for, whose
// limits and budgets apply on top of the key's own. keys.Manager
// satisfies it; lookups should be cheap (cached), they run on every call.
type Directory interface {
	GetTeam(ctx context.Context, name string) (keys.Team, error)
	GetUser(ctx context.Context, name string) (keys.User, error)
}

// UsageRecorder receives one record per call that reached an upstream.
// meter.Recorder satisfies it; Record must not block for long.
type UsageRecorder interface {
	Record(meter.Record)
}

// Policy is what the admission stage enforces. Every field is required.
type Policy struct {
	// Directory resolves teams and users.
	Directory Directory
	// Limiter enforces requests and tokens per second/minute.
	Limiter limit.Limiter
	// Concurrency enforces calls in flight.
	Concurrency limit.Concurrency
	// Pricing prices models for budgets and usage.
	Pricing *meter.Table
	// Budgets reserves and settles spend.
	Budgets *meter.Budgets
	// Usage records every call's tokens and cost.
	Usage UsageRecorder
	// AuthThrottle slows down and blocks addresses that keep failing
	// authentication.
	AuthThrottle *limit.AuthThrottle
}

func (p *Policy) problems() []string {
	var out []string
	if p == nil {
		return []string{"no policy"}
	}
	for name, missing := range map[string]bool{
		"directory": p.Directory == nil, "limiter": p.Limiter == nil, "concurrency limiter": p.Concurrency == nil,
		"pricing": p.Pricing == nil, "budgets": p.Budgets == nil, "usage recorder": p.Usage == nil,
		"auth throttle": p.AuthThrottle == nil,
	} {
		if missing {
			out = append(out, "no "+name)
		}
	}
	return out
}

// throttledAuth authenticates with a, after checking that the caller's
// address is not blocked for failing too often; failures slow the address
// down and finally block it. Blocks are per address, never per key, so an
// attacker cannot lock a legitimate key out.
func (g *Gateway) throttledAuth(a auth.Authenticator) Stage {
	t := g.o.Policy.AuthThrottle
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			sc := ScopeFrom(r.Context())
			addr := sc.ClientIP
			if delay, blocked, retry := t.Check(addr); blocked {
				return &apperr.Error{Code: apperr.RateLimited, RetryAfter: retry,
					Message: "too many failed authentication attempts from your address; try again later"}
			} else if delay > 0 {
				timer := time.NewTimer(delay)
				select {
				case <-r.Context().Done():
					timer.Stop()
					return errClientGone
				case <-timer.C:
				}
			}
			p, err := a.Authenticate(r)
			if err == nil && p == nil {
				err = apperr.New(apperr.Unauthenticated, "invalid API key")
			}
			if err != nil {
				if apperr.CodeOf(err) == apperr.Unauthenticated {
					t.Failure(addr)
					sc.PrefixTried = presentedPrefix(r)
				}
				return err
			}
			t.Success(addr)
			sc.Principal = p
			return next.ServeHTTP(w, r)
		})
	}
}

// authorizeCaller checks the parts of a key's policy that do not depend
// on the body: the routes it may call and the addresses it may call from.
func authorizeCaller(next Handler) Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		sc := ScopeFrom(r.Context())
		if k := sc.Principal.Key; k != nil {
			if !k.AllowsRoute(r.URL.Path) {
				return apperr.New(apperr.Forbidden, "this key may not call "+r.URL.Path)
			}
			if !k.AllowsIP(sc.ClientIP) {
				return apperr.New(apperr.Forbidden, "this key may not be used from your address")
			}
		}
		return next.ServeHTTP(w, r)
	})
}

// account is one party whose limits and budget a call counts against.
type account struct {
	kind, id, label string
	limits          keys.Limits
	budget          meter.Budget
}

// accounts returns the key, user and team a call counts against, with
// their limits and budgets. A user or team named by a key must exist (the
// key manager checks it when the key is written); one named only by a
// token's claims may not, and then has no limits of its own.
func (g *Gateway) accounts(ctx context.Context, p *auth.Principal) ([]account, *keys.Team, error) {
	var out []account
	if p == nil {
		return nil, nil, nil // a public route: nobody to count against
	}
	if k := p.Key; k != nil {
		out = append(out, account{kind: meter.KindKey, id: k.ID, label: fmt.Sprintf("key %q", k.Name), limits: k.Limits, budget: k.Budget})
	}
	fromKey := p.Key != nil
	var team *keys.Team
	if p.User != "" {
		u, err := g.o.Policy.Directory.GetUser(ctx, p.User)
		switch {
		case err == nil:
			out = append(out, account{kind: meter.KindUser, id: u.Name, label: fmt.Sprintf("user %q", u.Name), limits: u.Limits, budget: u.Budget})
		case errors.Is(err, store.ErrNotFound) && !fromKey:
		default:
			return nil, nil, unavailable("users", err)
		}
	}
	if p.Team != "" {
		t, err := g.o.Policy.Directory.GetTeam(ctx, p.Team)
		switch {
		case err == nil:
			team = &t
			out = append(out, account{kind: meter.KindTeam, id: t.Name, label: fmt.Sprintf("team %q", t.Name), limits: t.Limits, budget: t.Budget})
		case errors.Is(err, store.ErrNotFound) && !fromKey:
		default:
			return nil, nil, unavailable("teams", err)
		}
	}
	return out, team, nil
}

func unavailable(what string, err error) error {
	return &apperr.Error{Code: apperr.Unavailable, RetryAfter: time.Second,
		Message: "cannot check " + what + " right now; try again shortly", Cause: err}
}

// admit is the admission stage: after the caller and the request are
// known, it charges the rate limits, takes concurrency slots and reserves
// the call's estimated maximum cost in every budget that applies, in that
// order, each all or nothing. After the call it corrects the token limits
// from the real usage, settles the cost and records the usage. A refusal
// anywhere undoes what was taken before it.
func (g *Gateway) admit(next Handler) Handler {
	pol := g.o.Policy
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		sc := ScopeFrom(ctx)
		accts, team, err := g.accounts(ctx, sc.Principal)
		if err != nil {
			return err
		}
		if team != nil && sc.Model != "" && !team.AllowsModel(sc.Model) {
			return &apperr.Error{Code: apperr.Forbidden, Param: "model", Message: fmt.Sprintf("team %q may not use the model %q", team.Name, sc.Model)}
		}

		price, priced := g.price(sc.Model)
		var est meter.CallEstimate
		if sc.BodyIsJSON {
			est = meter.EstimateJSON(sc.Op, sc.Body, price)
		} else {
			est = meter.Estimate(sc.Op, sc.Body, price)
		}
		budgets := make([]meter.AccountBudget, 0, len(accts))
		for _, a := range accts {
			if !a.budget.IsZero() {
				budgets = append(budgets, meter.AccountBudget{Account: meter.Account{Kind: a.kind, ID: a.id}, Budget: a.budget, Label: a.label})
			}
		}
		if len(budgets) > 0 && !priced {
			// A budget cannot bound what it cannot price.
			return &apperr.Error{Code: apperr.Forbidden, Param: "model", Message: fmt.Sprintf(
				"%s has a budget, and Warden has no price for %q; an operator can add one under pricing: in the configuration", budgets[0].Label, sc.Model)}
		}

		checks, tokenChecks := rateChecks(accts, est.Tokens())
		var reqRes, tokRes *limit.Result
		if len(checks) > 0 {
			results, refused, err := limit.AllowAll(ctx, pol.Limiter, checks)
			reqRes, tokRes = tightest(checks, results)
			limit.SetHeaders(w.Header(), reqRes, tokRes)
			switch {
			case err != nil:
				return err
			case refused >= 0:
				key := checks[refused].Key
				sc.RefusedScope, sc.RefusedLimit = key[:strings.IndexByte(key, ':')], key[strings.LastIndexByte(key, ':')+1:]
				return &apperr.Error{Code: apperr.RateLimited, RetryAfter: results[refused].RetryAfter,
					Message: fmt.Sprintf("rate limit reached: %s; retry after %s", checks[refused].Name, roundUp(results[refused].RetryAfter))}
			}
		}

		for _, a := range accts {
			if a.limits.MaxParallel <= 0 {
				continue
			}
			release, ok, err := pol.Concurrency.Acquire(ctx, a.kind+":"+a.id, a.limits.MaxParallel)
			if err != nil {
				g.refundTokens(ctx, tokenChecks, checks)
				return &apperr.Error{Code: apperr.Unavailable, RetryAfter: time.Second, Message: "rate limits are unavailable; try again shortly", Cause: err}
			}
			if !ok {
				sc.RefusedScope, sc.RefusedLimit = a.kind, "parallel"
				g.refundTokens(ctx, tokenChecks, checks)
				return &apperr.Error{Code: apperr.RateLimited, RetryAfter: time.Second,
					Message: fmt.Sprintf("too many calls in flight for %s (at most %d at once)", a.label, a.limits.MaxParallel)}
			}
			defer release()
		}

		var res *meter.Reservation
		if len(budgets) > 0 {
			res, err = pol.Budgets.Reserve(ctx, budgets, est.MaxCost)
			if err != nil {
				if apperr.CodeOf(err) == apperr.BudgetExceeded {
					sc.RefusedScope, sc.RefusedLimit = refusingBudget(budgets, err), "budget"
				}
				g.refundTokens(ctx, tokenChecks, checks)
				return err
			}
		}

		err = next.ServeHTTP(w, r)

		// The call is over; what follows must happen even if the caller
		// has gone, since the upstream may have billed.
		ctx = context.WithoutCancel(ctx)
		reached := sc.Attempts > 0
		usage := meter.FromProvider(sc.Usage)
		estimated := false
		if reached && !sc.Usage.Known && sc.Status < 400 {
			// Never record a call that ran as free: without a usage report
			// it is billed at its estimate.
			usage = meter.Usage{InputTokens: est.InputTokens, OutputTokens: est.MaxOutputTokens}
			estimated = true
		}
		tokens := usage.InputTokens + usage.CachedInputTokens + usage.CacheWriteInputTokens + usage.OutputTokens
		if !reached {
			tokens = 0
		}
		for _, i := range tokenChecks {
			if delta := tokens - checks[i].N; delta != 0 {
				if aerr := pol.Limiter.Adjust(ctx, checks[i].Key, checks[i].Rate, delta); aerr != nil {
					g.log.WarnContext(ctx, "token limit not corrected", "request_id", sc.RequestID, "reason", aerr.Error())
				}
			}
		}
		if sc.ServedModel != "" && sc.ServedModel != sc.Model {
			// A fallback answered: bill what served the call.
			if p, ok := g.price(sc.ServedModel); ok {
				price = p
			}
		}
		cost := price.Cost(usage)
		if res != nil {
			var serr error
			if reached && (sc.Usage.Known || estimated) {
				serr = res.Settle(ctx, cost)
			} else {
				serr = res.Release(ctx)
			}
			if serr != nil {
				g.log.ErrorContext(ctx, "budget not settled", "request_id", sc.RequestID, "reason", serr.Error())
			}
		}
		if reached {
			sc.Cost = cost
			pol.Usage.Record(g.usageRecord(sc, usage, cost, estimated))
		}
		return err
	})
}

// price looks up a public model's price: under its own name (which
// configuration can set), else under its deployments' upstream names,
// taking the dearest so that an estimate is never low. A model with a
// deployment that has no price has none.
func (g *Gateway) price(model string) (meter.Price, bool) {
	if model == "" {
		return meter.Price{}, false
	}
	table := g.o.Policy.Pricing
	if p, ok := table.Lookup(model); ok {
		return p, true
	}
	var best meter.Price
	deps := g.o.Router.Deployments(model)
	for _, d := range deps {
		p, ok := table.Lookup(d.Model)
		if !ok {
			return meter.Price{}, false
		}
		if p.InputPerMTok+p.OutputPerMTok > best.InputPerMTok+best.OutputPerMTok {
			best = p
		}
	}
	return best, len(deps) > 0
}

// rateChecks lists the rate limits a call must pass: for each account,
// requests per second and per minute (one unit) and tokens per minute
// (the estimate). tokenChecks indexes the token ones, corrected later.
func rateChecks(accts []account, tokens int64) (checks []limit.Check, tokenChecks []int) {
	for _, a := range accts {
		l := a.limits
		prefix := a.kind + ":" + a.id + ":"
		if l.RPS > 0 {
			checks = append(checks, limit.Check{Key: prefix + "rps", Rate: limit.PerSecond(l.RPS), N: 1, Name: a.label + " requests per second"})
		}
		if l.RPM > 0 {
			checks = append(checks, limit.Check{Key: prefix + "rpm", Rate: limit.PerMinute(l.RPM), N: 1, Name: a.label + " requests per minute"})
		}
		if l.TPM > 0 {
			tokenChecks = append(tokenChecks, len(checks))
			checks = append(checks, limit.Check{Key: prefix + "tpm", Rate: limit.PerMinute(l.TPM), N: tokens, Name: a.label + " tokens per minute"})
		}
	}
	return checks, tokenChecks
}

// tightest picks the request and token results with the least remaining,
// for the x-ratelimit-* headers.
func tightest(checks []limit.Check, results []limit.Result) (req, tok *limit.Result) {
	for i := range checks {
		if i >= len(results) || results[i].Limit == 0 {
			continue
		}
		res := &results[i]
		if len(checks[i].Key) > 3 && checks[i].Key[len(checks[i].Key)-3:] == "tpm" {
			if tok == nil || res.Remaining < tok.Remaining {
				tok = res
			}
		} else if req == nil || res.Remaining < req.Remaining {
			req = res
		}
	}
	return req, tok
}

// refundTokens gives back the token estimates charged for a call that was
// refused after the rate limits passed. Requests stay counted: the caller
// did make them.
func (g *Gateway) refundTokens(ctx context.Context, tokenChecks []int, checks []limit.Check) {
	ctx = context.WithoutCancel(ctx)
	for _, i := range tokenChecks {
		if err := g.o.Policy.Limiter.Adjust(ctx, checks[i].Key, checks[i].Rate, -checks[i].N); err != nil {
			g.log.WarnContext(ctx, "token limit not refunded", "reason", err.Error())
		}
	}
}

func (g *Gateway) usageRecord(sc *Scope, u meter.Usage, cost meter.Amount, estimated bool) meter.Record {
	rec := meter.Record{
		Time: sc.Start, RequestID: sc.RequestID, Model: cmp.Or(sc.ServedModel, sc.Model), Provider: sc.Provider, Deployment: sc.Deployment,
		Route: string(sc.Op), Status: sc.Status,
		InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CachedInputTokens: u.CachedInputTokens,
		CacheWriteInputTokens: u.CacheWriteInputTokens, Cost: cost, Stream: sc.Stream, Estimated: estimated,
	}
	if p := sc.Principal; p != nil {
		rec.KeyID, rec.User, rec.Team = p.KeyID, p.User, p.Team
	}
	return rec
}

// roundUp rounds d up to whole seconds, at least one, as Retry-After does.
func roundUp(d time.Duration) time.Duration {
	if s := (d + time.Second - 1).Truncate(time.Second); s > 0 {
		return s
	}
	return time.Second
}

// CachedDirectory answers team and user lookups from memory for up to ttl,
// so that the admission stage does not ask the store on every call. A
// change to a team or user reaches a running server within ttl. Failed
// lookups are not cached (the store is asked again), except "not found",
// which is as cacheable as an answer.
func CachedDirectory(d Directory, ttl time.Duration, now func() time.Time) Directory {
	if now == nil {
		now = time.Now
	}
	return &cachedDirectory{d: d, ttl: ttl, now: now, teams: map[string]cachedEntry[keys.Team]{}, users: map[string]cachedEntry[keys.User]{}}
}

type cachedEntry[T any] struct {
	v       T
	err     error
	expires time.Time
}

type cachedDirectory struct {
	d     Directory
	ttl   time.Duration
	now   func() time.Time
	mu    sync.Mutex
	teams map[string]cachedEntry[keys.Team]
	users map[string]cachedEntry[keys.User]
}

// maxCached bounds each map; past it the map starts again empty, which
// costs only lookups.
const maxCached = 10_000

func (c *cachedDirectory) GetTeam(ctx context.Context, name string) (keys.Team, error) {
	return cachedGet(c, c.teams, name, func() (keys.Team, error) { return c.d.GetTeam(ctx, name) })
}

func (c *cachedDirectory) GetUser(ctx context.Context, name string) (keys.User, error) {
	return cachedGet(c, c.users, name, func() (keys.User, error) { return c.d.GetUser(ctx, name) })
}

func cachedGet[T any](c *cachedDirectory, m map[string]cachedEntry[T], name string, get func() (T, error)) (T, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := m[name]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.v, e.err
	}
	v, err := get()
	if err == nil || errors.Is(err, store.ErrNotFound) {
		c.mu.Lock()
		if len(m) >= maxCached {
			clear(m)
		}
		m[name] = cachedEntry[T]{v: v, err: err, expires: now.Add(c.ttl)}
		c.mu.Unlock()
	}
	return v, err
}

// refusingBudget names the kind of account whose budget refused a call:
// the refusal's message names the budget by its label.
func refusingBudget(budgets []meter.AccountBudget, err error) string {
	msg := apperr.From(err).Message
	for _, b := range budgets {
		if strings.Contains(msg, b.Label) {
			return b.Account.Kind
		}
	}
	return ""
}

// prefixLen is how much of a refused credential the anomaly detector may
// see: enough to tell attacks on one key family ("wdn_Ab12", "sk-proj-")
// apart, far too little to use or narrow down a key.
const prefixLen = 8

// presentedPrefix is the start of the credential a refused request
// presented, for spotting bursts against one key; never more.
func presentedPrefix(r *http.Request) string {
	cred := r.Header.Get("X-Api-Key")
	if scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "Bearer") {
		cred = strings.TrimSpace(tok)
	}
	if len(cred) < prefixLen*2 {
		return "" // too short to be a key; nothing to group by
	}
	return cred[:prefixLen]
}
