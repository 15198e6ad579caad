// Package limit keeps callers within their rate and concurrency limits: a
// GCRA rate limiter charged in requests or tokens, all-or-nothing checks
// across several limits at once, concurrency slots, throttling of failed
// authentication by client address, and the OpenAI-style rate-limit
// response headers.
//
// The limiters here keep their state in process memory. A shared backend
// (Redis) satisfies the same Limiter and Concurrency interfaces so that
// replicas agree; until one is configured, each replica limits on its own.
package limit

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
)

// Rate is a limit of Limit units (requests or tokens) per Period.
//
// Limits are enforced with GCRA, the generic cell rate algorithm: each key
// holds one timestamp, the theoretical arrival time (TAT) at which its
// bucket would be full again, so a key costs eight bytes whatever the rate.
// Units drain at a steady Limit/Period; the emission interval Period/Limit
// is rounded up to the nanosecond, so a limit is never exceeded, and rates
// finer than one unit per nanosecond are refused by Validate.
type Rate struct {
	Limit  int64
	Period time.Duration
	// Burst is how many units may arrive at once after the key has been
	// idle. Zero means Burst = Limit: a full period's worth may arrive at
	// once, which is what "60 per minute" means to most callers. A smaller
	// burst spreads the limit out (Limit 60, Period 1m, Burst 1 admits one
	// request a second); a larger one lets an idle key save up.
	Burst int64
}

// PerSecond is n units a second with the default burst.
func PerSecond(n int64) Rate { return Rate{Limit: n, Period: time.Second} }

// PerMinute is n units a minute with the default burst.
func PerMinute(n int64) Rate { return Rate{Limit: n, Period: time.Minute} }

// maxAhead bounds how far a key's TAT may run ahead of now (about 73
// years), so that sums of times and costs can not overflow an int64.
const maxAhead = int64(1) << 61

// ErrInvalidRate is returned for a Rate that can not be enforced. It is a
// configuration mistake, so callers refuse the request rather than let it
// through unlimited.
var ErrInvalidRate = errors.New("invalid rate")

// ErrExceedsBurst is the cause when a single charge is larger than the
// rate's burst: it could never fit however long the caller waited, so it
// is refused at once instead of being told to retry.
var ErrExceedsBurst = errors.New("charge exceeds the burst")

// Validate reports why r can not be enforced, or nil. Call it when limits
// are configured so that a bad one fails at start, not on a request.
func (r Rate) Validate() error {
	switch {
	case r.Limit <= 0:
		return fmt.Errorf("%w: limit %d must be positive", ErrInvalidRate, r.Limit)
	case r.Period <= 0:
		return fmt.Errorf("%w: period %v must be positive", ErrInvalidRate, r.Period)
	case r.Burst < 0:
		return fmt.Errorf("%w: burst %d must be zero (same as the limit) or positive", ErrInvalidRate, r.Burst)
	case r.Limit > int64(r.Period):
		return fmt.Errorf("%w: %d per %v is more than one per nanosecond; use a longer period", ErrInvalidRate, r.Limit, r.Period)
	case !r.windowFits():
		return fmt.Errorf("%w: burst %d at %d per %v spans more than %v; lower the burst", ErrInvalidRate, r.burst(), r.Limit, r.Period, time.Duration(maxAhead))
	}
	return nil
}

// burst is the effective burst: Burst, or Limit when Burst is zero.
func (r Rate) burst() int64 {
	if r.Burst == 0 {
		return r.Limit
	}
	return r.Burst
}

// windowFits says whether the burst's span, burst × interval, is within
// maxAhead. r must have a positive Limit and Period and Burst >= 0.
func (r Rate) windowFits() bool {
	hi, lo := bits.Mul64(uint64(r.burst()), uint64(r.interval()))
	return hi == 0 && lo <= uint64(maxAhead)
}

// interval is the emission interval, Period/Limit rounded up. r must have
// a positive Limit and Period.
func (r Rate) interval() time.Duration {
	return (r.Period + time.Duration(r.Limit) - 1) / time.Duration(r.Limit)
}

// cost is how far n units push a TAT, saturating rather than overflowing
// for absurd n (Adjust accepts any delta).
func (r Rate) cost(n int64) int64 {
	t := int64(r.interval())
	if n > math.MaxInt64/t {
		return math.MaxInt64
	}
	return n * t
}

// Result is a limiter's answer for one key.
type Result struct {
	// Allowed says whether the units were charged.
	Allowed bool
	// Limit is the rate's Limit, as reported in x-ratelimit-limit-*.
	Limit int64
	// Remaining is how many more units would be allowed right now.
	Remaining int64
	// RetryAfter, when refused, is how long until the refused charge
	// would fit. It is zero when allowed, and also when the charge can
	// never fit (the error then wraps ErrExceedsBurst).
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again.
	ResetAfter time.Duration
}

// errExceedsBurst is the caller-facing error for a charge larger than the
// burst. It is a 413, not a 429: retrying the same request can not help.
func errExceedsBurst(name string, n, burst int64) error {
	what := "the rate limit"
	if name != "" {
		what = "the " + name + " limit"
	}
	return apperr.Wrap(apperr.TooLarge,
		fmt.Sprintf("this request needs %d units of %s, which allows at most %d at once; it can never pass as it is: make the request smaller or ask for a higher limit", n, what, burst),
		ErrExceedsBurst)
}
