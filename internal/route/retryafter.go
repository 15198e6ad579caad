package route

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter caps what ParseRetryAfter returns, so that an upstream
// cannot park a request (or the caller told to wait) for hours.
const MaxRetryAfter = 10 * time.Minute

// httpDates are the date forms RFC 9110 asks recipients to accept: the
// preferred IMF-fixdate, then the obsolete RFC 850 and asctime forms.
var httpDates = []string{
	"Mon, 02 Jan 2006 15:04:05 GMT",
	"Monday, 02-Jan-06 15:04:05 GMT",
	"Mon Jan _2 15:04:05 2006",
}

// ParseRetryAfter parses a Retry-After header value: delta-seconds, or an
// HTTP date taken relative to now. The result is in [0, MaxRetryAfter];
// garbage, negative numbers and dates in the past give 0.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if strings.Trim(v, "0123456789") == "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return MaxRetryAfter
			}
			return 0
		}
		if n >= uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(n) * time.Second
	}
	for _, layout := range httpDates {
		t, err := time.Parse(layout, v)
		if err != nil {
			continue
		}
		return min(max(t.Sub(now), 0), MaxRetryAfter)
	}
	return 0
}
