package limit

import (
	"net/http"
	"strconv"
	"time"
)

// SetHeaders writes the rate-limit headers OpenAI sends, so that clients
// written for it pace themselves against Warden's limits:
// x-ratelimit-{limit,remaining,reset}-requests from requests and the same
// three for tokens, each when its result is not nil. Reset times are
// durations in Go's notation rounded up to the millisecond ("1s", "6m0s",
// "20ms"), as OpenAI writes them. When a result is refused, Retry-After
// carries the longest wait in whole seconds, rounded up and at least 1.
func SetHeaders(h http.Header, requests, tokens *Result) {
	var refused bool
	var wait time.Duration
	for _, x := range []struct {
		kind string
		r    *Result
	}{{"requests", requests}, {"tokens", tokens}} {
		if x.r == nil {
			continue
		}
		h.Set("X-Ratelimit-Limit-"+x.kind, strconv.FormatInt(x.r.Limit, 10))
		h.Set("X-Ratelimit-Remaining-"+x.kind, strconv.FormatInt(max(x.r.Remaining, 0), 10))
		h.Set("X-Ratelimit-Reset-"+x.kind, resetText(x.r.ResetAfter))
		if !x.r.Allowed {
			refused = true
			wait = max(wait, x.r.RetryAfter)
		}
	}
	if refused {
		h.Set("Retry-After", strconv.FormatInt(retryAfterSeconds(wait), 10))
	}
}

// resetText formats d as OpenAI's reset headers do, rounded up to the
// millisecond so that a client waiting that long finds the limit reset.
func resetText(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return ((d + time.Millisecond - 1) / time.Millisecond * time.Millisecond).String()
}

// retryAfterSeconds is d in whole seconds, rounded up and at least 1:
// Retry-After has no fractions, and 0 would invite an immediate retry.
func retryAfterSeconds(d time.Duration) int64 {
	return max(1, int64((d+time.Second-1)/time.Second))
}
