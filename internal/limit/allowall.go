package limit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
)

// Check is one limit a request must pass: N units against Rate for Key.
type Check struct {
	Key  string
	Rate Rate
	N    int64
	// Name says which limit this is ("requests per minute", "team tokens
	// per minute") in errors shown to the caller; it must not contain
	// the key.
	Name string
}

// AllowAll charges every check or none: a request passes only if it fits
// within all its limits (per key requests per second and minute, tokens
// per minute, per user, per team), and a refused request must not use up
// the limits it did fit in.
//
// Every check is charged; if any is refused, the charges that succeeded
// are refunded with Adjust and refused is the index of the tightest
// refusal, the one with the longest RetryAfter, since retrying any sooner
// would be refused again. refused is -1 when all were allowed. results has
// one entry per check; after a refusal the refunded entries show their
// state after the refund.
//
// An error from the limiter (a backend down, an invalid rate, a charge
// larger than a burst) ends the checks: the charges made so far are
// refunded, refused is the index of the failing check, and the request
// must be refused. Refunds run even if ctx is cancelled, since the charge
// they undo was already made.
func AllowAll(ctx context.Context, l Limiter, checks []Check) (results []Result, refused int, err error) {
	results = make([]Result, len(checks))
	refused = -1
	for i, c := range checks {
		res, err := l.Allow(ctx, c.Key, c.Rate, c.N)
		results[i] = res
		if err != nil {
			if errors.Is(err, ErrExceedsBurst) {
				err = errExceedsBurst(c.Name, c.N, c.Rate.burst())
			} else {
				err = fmt.Errorf("limit: checking the %s limit: %w", c.Name, err)
			}
			if rerr := refund(ctx, l, checks[:i], results[:i]); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return results, i, err
		}
		if !res.Allowed && (refused < 0 || res.RetryAfter > results[refused].RetryAfter) {
			refused = i
		}
	}
	if refused >= 0 {
		if err := refund(ctx, l, checks, results); err != nil {
			return results, refused, err
		}
	}
	return results, refused, nil
}

// refund undoes the allowed charges among checks and updates their results
// to match. A refund that fails leaves that limit over-charged, which errs
// on the side of refusing, so the others are still refunded.
func refund(ctx context.Context, l Limiter, checks []Check, results []Result) error {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for i, c := range checks {
		if !results[i].Allowed || c.N == 0 {
			continue
		}
		if err := l.Adjust(ctx, c.Key, c.Rate, -c.N); err != nil {
			errs = append(errs, fmt.Errorf("limit: refunding the %s limit after a refusal: %w", c.Name, err))
			continue
		}
		r := &results[i]
		r.Remaining = min(r.Remaining+c.N, c.Rate.burst())
		r.ResetAfter = max(0, r.ResetAfter-time.Duration(c.Rate.cost(c.N)))
	}
	if len(errs) > 0 {
		return apperr.Wrap(apperr.Unavailable, "rate limits are unavailable; try again shortly", errors.Join(errs...))
	}
	return nil
}
