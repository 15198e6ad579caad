package anomaly

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/wardenproject/warden/internal/monitor/alert"
)

// Rule names a detection rule. It is the Rule of the alerts it raises.
type Rule string

// Rules.
const (
	// Rate spikes, per key and per team: the running minute's count beyond
	// K standard deviations over the smoothed baseline.
	RuleRequestSpike Rule = "request_spike"
	RuleTokenSpike   Rule = "token_spike"
	RuleCostSpike    Rule = "cost_spike"
	RuleErrorSpike   Rule = "error_spike"
	// A key with a history used from an address range (/24, /48) or a
	// user agent it was not used from before.
	RuleNewIPRange   Rule = "new_ip_range"
	RuleNewUserAgent Rule = "new_user_agent"
	// Failed authentications in a window from one address, or against
	// one key prefix (the first characters of what was presented).
	RuleAuthFailuresIP     Rule = "auth_failures_ip"
	RuleAuthFailuresPrefix Rule = "auth_failures_key_prefix"
	// Guardrail blocks and prompt-injection attempts by one key.
	RuleGuardBlocks Rule = "guard_blocks"
	RuleInjections  Rule = "injection_attempts"
	// A budget crossed 50, 80 or 100 percent (BudgetThreshold).
	RuleBudget Rule = "budget_threshold"
	// A key used at an hour of the day it almost never is.
	RuleOffHours Rule = "off_hours"
	// A suspend response failed; raised by the detector itself.
	RuleSuspendFailed Rule = "suspend_failed"
)

// rulesActingOnKeys are the rules whose alerts can be about a key, and so
// may have the suspend response. The others are about addresses, key
// prefixes, teams or budget accounts, which have no key to suspend.
var rulesActingOnKeys = map[Rule]bool{
	RuleRequestSpike: true, RuleTokenSpike: true, RuleCostSpike: true, RuleErrorSpike: true,
	RuleNewIPRange: true, RuleNewUserAgent: true, RuleGuardBlocks: true, RuleInjections: true,
	RuleOffHours: true,
}

var allRules = map[Rule]bool{
	RuleRequestSpike: true, RuleTokenSpike: true, RuleCostSpike: true, RuleErrorSpike: true,
	RuleNewIPRange: true, RuleNewUserAgent: true, RuleAuthFailuresIP: true, RuleAuthFailuresPrefix: true,
	RuleGuardBlocks: true, RuleInjections: true, RuleBudget: true, RuleOffHours: true,
}

// Response is what the detector does when a rule fires.
type Response string

// Responses.
const (
	// Alert raises an alert. The default for every rule.
	Alert Response = "alert"
	// Suspend raises an alert and suspends the key through
	// Config.Suspend. An admin resumes it. Only for alerts about a key:
	// a team's spike under a suspend rule still only alerts.
	Suspend Response = "suspend"
)

// Sink receives the detector's alerts. It must not block: alert.Dispatcher
// queues and returns.
type Sink interface {
	Send(alert.Alert)
}

// Rates holds one number per rate the detector follows, each per bucket:
// requests, tokens (input and output), cost in nano-dollars, and errored
// calls (status 400 and above).
type Rates struct {
	Requests, Tokens, Cost, Errors float64
}

// Burst is a count of events within a sliding window that raises an alert.
type Burst struct {
	Count  int
	Window time.Duration
}

// History is how much use a key needs before a new address range or user
// agent is news: both the number of calls and the time since the first.
type History struct {
	Requests int64
	Age      time.Duration
}

// OffHours configures the usual-hours rule.
type OffHours struct {
	// History is how long a key must have been seen before its hours
	// count as usual.
	History time.Duration
	// MinCalls is how many calls the histogram needs as well: below it a
	// share of 1% is less than one call.
	MinCalls int64
	// Share: a call at an hour of the day that has had less than this
	// fraction of the key's calls is off-hours.
	Share float64
	// Location is where hours are counted; nil means UTC.
	Location *time.Location
}

// Config configures a Detector. Zero fields take the defaults named in
// their comments.
//
// The baselines are exponentially weighted moving averages (EWMA) of each
// rate per bucket, with an EWMA variance (Finch, "Incremental calculation
// of weighted mean and variance", 2009): for each closed bucket value x,
//
//	diff = x - mean;  mean += Alpha*diff;  var = (1-Alpha)*(var + Alpha*diff²)
//
// Only buckets in which the key (or team) made calls are samples: the
// baseline is "the rate while in use", so that a batch job that starts
// every hour is not a spike every hour, while a leaked key driven far
// harder than its owner drives it still stands out. With the default
// Alpha of 0.05 a sample's weight halves after about 14 samples and the
// baseline reflects roughly the last 40 active minutes; Warmup (default
// 30) samples must be in before any spike alert, because an EWMA variance
// over a handful of samples is far too small and would alert on noise.
//
// A spike is the running bucket's count above
//
//	mean + K * max(stddev, sqrt(mean), MinRelStdDev*mean)
//
// and at least MinSpike. The floors keep a perfectly steady key (stddev
// near zero) from alerting on a small wobble: sqrt(mean) is the spread
// of a steady Poisson stream of requests, MinRelStdDev*mean (default
// 0.25, with K 6: two and a half times the mean) does the same for tokens
// and cost. Tokens and cost come in calls, so a spike of either must
// also be at least what MinSpike.Requests calls carry, each counted at
// the size of the call an average token is in: otherwise a key's or a
// team's few large calls in one bucket, which the request floor says are
// no spike, would be one.
//
// K is 6 rather than a textbook 3 or 4 because a bucket is short and
// there are many: per-minute counts of a few dozen calls have a Poisson
// tail far heavier than a normal one, the EWMA standard deviation of
// about 40 samples is often an underestimate, and a team sees thousands
// of active minutes a day. On realistic traffic of 20 keys in three teams
// K 4 raised a few alerts a day on noise, K 6 about one a month, while a
// key driven at several times its usual rate still stands out.
type Config struct {
	// Sink receives every alert. Required.
	Sink Sink
	// Now is the clock for events without a Time, budget alerts and
	// suspend failures; nil means time.Now.
	Now func() time.Time
	// Logger receives suspensions and their failures; nil discards.
	Logger *slog.Logger

	// Bucket is the rate interval. Default 1 minute.
	Bucket time.Duration
	// Alpha is the EWMA smoothing factor, in (0, 1). Default 0.05.
	Alpha float64
	// Warmup is how many active buckets a baseline needs before it can
	// alert. Default 30.
	Warmup int
	// K is how many standard deviations above the mean is a spike.
	// Default 6.
	K float64
	// MinRelStdDev floors the standard deviation at this fraction of the
	// mean. Default 0.25.
	MinRelStdDev float64
	// MinSpike is the smallest count in a bucket that can be a spike.
	// Default 20 requests, 2000 tokens, $0.05, 10 errors.
	MinSpike Rates

	// SourceHistory is the use a key needs before a new address range or
	// user agent raises an alert. Default 100 calls over at least 1 hour.
	SourceHistory History
	// AuthFailuresPerIP: failed authentications from one address (for
	// IPv6, one /64, which one client controls). Default 20 in 5 minutes.
	AuthFailuresPerIP Burst
	// AuthFailuresPerPrefix: failed authentications presenting keys that
	// begin alike: someone holding part of a key, or a client with a
	// revoked key. Default 10 in 5 minutes.
	AuthFailuresPerPrefix Burst
	// GuardBlocks: calls of one key blocked by a guardrail. Default 10 in
	// 10 minutes.
	GuardBlocks Burst
	// Injections: prompt-injection attempts by one key. Default 5 in 10
	// minutes.
	Injections Burst
	// OffHours: default 7 days of history, 100 calls, share 0.01, UTC.
	OffHours OffHours

	// Dedupe: an alert with the same rule, subject and severity as one
	// raised within this window is not raised again. Default 1 hour.
	Dedupe time.Duration
	// Responses maps rules to Alert or Suspend; a rule not in the map
	// alerts.
	Responses map[Rule]Response
	// Suspend suspends a key (keys.Manager.Suspend, which an admin can
	// undo with a resume). Required if any rule has the Suspend response.
	// It runs off the request path; reason is safe to show to admins.
	Suspend func(ctx context.Context, keyID, reason string) error
	// SuspendTimeout bounds one Suspend call. Default 10 seconds.
	SuspendTimeout time.Duration

	// Caps on what the detector remembers, so that memory stays bounded
	// whatever the traffic. Beyond a cap the least recently seen entries
	// (of a small random sample) are forgotten. Each cap is rounded down
	// to a multiple of 16 (the shard count), and is at least 16. Defaults:
	// 100 000 keys (about 1 KiB each), 10 000 teams, 100 000 addresses,
	// 100 000 key prefixes.
	MaxKeys, MaxTeams, MaxAddresses, MaxPrefixes int
}

// Defaults.
var defaults = Config{
	Bucket:                time.Minute,
	Alpha:                 0.05,
	Warmup:                30,
	K:                     6,
	MinRelStdDev:          0.25,
	MinSpike:              Rates{Requests: 20, Tokens: 2000, Cost: 50_000_000, Errors: 10},
	SourceHistory:         History{Requests: 100, Age: time.Hour},
	AuthFailuresPerIP:     Burst{Count: 20, Window: 5 * time.Minute},
	AuthFailuresPerPrefix: Burst{Count: 10, Window: 5 * time.Minute},
	GuardBlocks:           Burst{Count: 10, Window: 10 * time.Minute},
	Injections:            Burst{Count: 5, Window: 10 * time.Minute},
	OffHours:              OffHours{History: 7 * 24 * time.Hour, MinCalls: 100, Share: 0.01},
	Dedupe:                time.Hour,
	SuspendTimeout:        10 * time.Second,
	MaxKeys:               100_000,
	MaxTeams:              10_000,
	MaxAddresses:          100_000,
	MaxPrefixes:           100_000,
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// withDefaults fills zero fields and reports every invalid one.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Sink == nil {
		errs = append(errs, errors.New("no alert sink given"))
	}
	c.Bucket = or(c.Bucket, defaults.Bucket)
	c.Alpha = or(c.Alpha, defaults.Alpha)
	c.Warmup = or(c.Warmup, defaults.Warmup)
	c.K = or(c.K, defaults.K)
	c.MinRelStdDev = or(c.MinRelStdDev, defaults.MinRelStdDev)
	c.MinSpike = or(c.MinSpike, defaults.MinSpike)
	c.SourceHistory = or(c.SourceHistory, defaults.SourceHistory)
	c.AuthFailuresPerIP = or(c.AuthFailuresPerIP, defaults.AuthFailuresPerIP)
	c.AuthFailuresPerPrefix = or(c.AuthFailuresPerPrefix, defaults.AuthFailuresPerPrefix)
	c.GuardBlocks = or(c.GuardBlocks, defaults.GuardBlocks)
	c.Injections = or(c.Injections, defaults.Injections)
	c.OffHours.History = or(c.OffHours.History, defaults.OffHours.History)
	c.OffHours.MinCalls = or(c.OffHours.MinCalls, defaults.OffHours.MinCalls)
	c.OffHours.Share = or(c.OffHours.Share, defaults.OffHours.Share)
	if c.OffHours.Location == nil {
		c.OffHours.Location = time.UTC
	}
	c.Dedupe = or(c.Dedupe, defaults.Dedupe)
	c.SuspendTimeout = or(c.SuspendTimeout, defaults.SuspendTimeout)
	c.MaxKeys = or(c.MaxKeys, defaults.MaxKeys)
	c.MaxTeams = or(c.MaxTeams, defaults.MaxTeams)
	c.MaxAddresses = or(c.MaxAddresses, defaults.MaxAddresses)
	c.MaxPrefixes = or(c.MaxPrefixes, defaults.MaxPrefixes)

	if c.Bucket < time.Second {
		errs = append(errs, errors.New("the bucket must be at least a second"))
	}
	if !(c.Alpha > 0 && c.Alpha < 1) {
		errs = append(errs, fmt.Errorf("alpha %v must be between 0 and 1", c.Alpha))
	}
	if c.Warmup < 2 {
		errs = append(errs, errors.New("the warm-up must be at least 2 buckets: one sample has no variance"))
	}
	for name, f := range map[string]float64{"k": c.K, "min_rel_stddev": c.MinRelStdDev, "off_hours share": c.OffHours.Share} {
		if !(f > 0) || math.IsInf(f, 0) {
			errs = append(errs, fmt.Errorf("%s must be a positive number", name))
		}
	}
	if c.OffHours.Share >= 1 {
		errs = append(errs, errors.New("the off-hours share must be below 1"))
	}
	m := c.MinSpike
	if m.Requests < 0 || m.Tokens < 0 || m.Cost < 0 || m.Errors < 0 {
		errs = append(errs, errors.New("minimum spikes must not be negative"))
	}
	if c.SourceHistory.Requests < 0 || c.SourceHistory.Age < 0 || c.OffHours.History < 0 || c.OffHours.MinCalls < 0 {
		errs = append(errs, errors.New("history lengths must not be negative"))
	}
	for name, b := range map[string]Burst{
		"auth failures per address": c.AuthFailuresPerIP, "auth failures per key prefix": c.AuthFailuresPerPrefix,
		"guard blocks": c.GuardBlocks, "injections": c.Injections,
	} {
		if b.Count < 1 || b.Window < time.Second {
			errs = append(errs, fmt.Errorf("%s: the count must be positive and the window at least a second", name))
		}
	}
	if c.Dedupe < 0 || c.SuspendTimeout < 0 {
		errs = append(errs, errors.New("the dedupe window and suspend timeout must not be negative"))
	}
	if c.MaxKeys < 0 || c.MaxTeams < 0 || c.MaxAddresses < 0 || c.MaxPrefixes < 0 {
		errs = append(errs, errors.New("caps must not be negative"))
	}
	suspends := false
	for r, resp := range c.Responses {
		switch {
		case !allRules[r]:
			errs = append(errs, fmt.Errorf("response for unknown rule %q", r))
		case resp != Alert && resp != Suspend:
			errs = append(errs, fmt.Errorf("rule %s: unknown response %q; use alert or suspend", r, resp))
		case resp == Suspend && !rulesActingOnKeys[r]:
			errs = append(errs, fmt.Errorf("rule %s: its alerts are not about a key, so it cannot suspend one; use alert", r))
		case resp == Suspend:
			suspends = true
		}
	}
	if suspends && c.Suspend == nil {
		errs = append(errs, errors.New("a rule has the suspend response but no suspend function is given"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("anomaly detector configuration: %w", err)
	}
	return c, nil
}
