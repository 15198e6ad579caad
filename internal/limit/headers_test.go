package limit

import (
	"flag"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestSetHeadersGolden(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name             string
		requests, tokens *Result
	}{
		{"requests allowed", &Result{Allowed: true, Limit: 60, Remaining: 59, ResetAfter: time.Second}, nil},
		{"both allowed, reset rounded up to the millisecond",
			&Result{Allowed: true, Limit: 10000, Remaining: 9999, ResetAfter: 8640 * ms},
			&Result{Allowed: true, Limit: 150000, Remaining: 149984, ResetAfter: 6*ms + 400*time.Microsecond}},
		{"requests refused for 20ms: Retry-After is at least 1",
			&Result{Limit: 3, ResetAfter: 20 * ms, RetryAfter: 20 * ms},
			&Result{Allowed: true, Limit: 40000, Remaining: 40000}},
		{"tokens refused for six minutes",
			&Result{Allowed: true, Limit: 500, Remaining: 499, ResetAfter: 120 * ms},
			&Result{Limit: 30000, Remaining: 12, ResetAfter: 6 * time.Minute, RetryAfter: 6 * time.Minute}},
		{"both refused: the longer wait, rounded up",
			&Result{Limit: 60, ResetAfter: time.Minute, RetryAfter: 1200 * ms},
			&Result{Limit: 1000, ResetAfter: 90 * time.Second, RetryAfter: 2*time.Second + time.Nanosecond}},
		{"refused without a wait (the request can never fit)", nil, &Result{Limit: 100, Remaining: 100}},
		{"nothing to report", nil, nil},
	}
	var b strings.Builder
	for _, tt := range tests {
		h := http.Header{}
		SetHeaders(h, tt.requests, tt.tokens)
		fmt.Fprintf(&b, "== %s\n", tt.name)
		for _, k := range slices.Sorted(maps.Keys(h)) {
			fmt.Fprintf(&b, "%s: %s\n", strings.ToLower(k), strings.Join(h[k], ", "))
		}
	}
	golden := filepath.Join("testdata", "headers.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Fatalf("headers differ from %s (go test -update rewrites it):\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

// TestSetHeadersValues pins the formats independently of the golden file,
// so that an -update run can not bless a wrong one.
func TestSetHeadersValues(t *testing.T) {
	h := http.Header{}
	SetHeaders(h,
		&Result{Limit: 60, Remaining: 0, ResetAfter: 6 * time.Minute, RetryAfter: 1500 * time.Millisecond},
		&Result{Allowed: true, Limit: 150000, Remaining: 149984, ResetAfter: 20 * time.Millisecond})
	for name, want := range map[string]string{
		"x-ratelimit-limit-requests":     "60",
		"x-ratelimit-remaining-requests": "0",
		"x-ratelimit-reset-requests":     "6m0s",
		"x-ratelimit-limit-tokens":       "150000",
		"x-ratelimit-remaining-tokens":   "149984",
		"x-ratelimit-reset-tokens":       "20ms",
		"retry-after":                    "2",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if len(h) != 7 {
		t.Errorf("%d headers written, want 7: %v", len(h), h)
	}

	for _, tt := range []struct {
		d     time.Duration
		reset string
		retry int64
	}{
		{0, "0s", 1},
		{-time.Second, "0s", 1},
		{time.Nanosecond, "1ms", 1},
		{time.Second, "1s", 1},
		{time.Second + time.Nanosecond, "1.001s", 2},
		{17 * time.Millisecond, "17ms", 1},
		{8640 * time.Millisecond, "8.64s", 9},
		{6 * time.Minute, "6m0s", 360},
		{90 * time.Minute, "1h30m0s", 5400},
	} {
		if got := resetText(tt.d); got != tt.reset {
			t.Errorf("resetText(%v) = %q, want %q", tt.d, got, tt.reset)
		}
		if got := retryAfterSeconds(tt.d); got != tt.retry {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", tt.d, got, tt.retry)
		}
	}
}
