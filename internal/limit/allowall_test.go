package limit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
)

// remaining is what key has left under r, read without charging.
func remaining(t *testing.T, l Limiter, key string, r Rate) int64 {
	t.Helper()
	res, err := l.Allow(context.Background(), key, r, 0)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return res.Remaining
}

func TestAllowAll(t *testing.T) {
	rps := Rate{Limit: 5, Period: time.Second}
	rpm := PerMinute(100)
	tpm := PerMinute(10_000)
	team := PerMinute(50_000)
	checks := func(tokens int64) []Check {
		return []Check{
			{Key: "key:rps", Rate: rps, N: 1, Name: "requests per second"},
			{Key: "key:rpm", Rate: rpm, N: 1, Name: "requests per minute"},
			{Key: "key:tpm", Rate: tpm, N: tokens, Name: "tokens per minute"},
			{Key: "team:tpm", Rate: team, N: tokens, Name: "team tokens per minute"},
		}
	}
	tests := []struct {
		name string
		// pre charges keys before the call under test.
		pre          map[string]int64
		tokens       int64
		wantRefused  int
		wantRetry    time.Duration
		wantLeft     map[string]int64 // remaining per key afterwards
		wantErr      error
		wantCode     apperr.Code
		wantInErrMsg string
	}{
		{
			name:        "all fit: every limit is charged",
			tokens:      1000,
			wantRefused: -1,
			wantLeft:    map[string]int64{"key:rps": 4, "key:rpm": 99, "key:tpm": 9000, "team:tpm": 49000},
		},
		{
			name:        "one refuses: the others are refunded",
			pre:         map[string]int64{"key:tpm": 9500},
			tokens:      1000,
			wantRefused: 2,
			wantRetry:   3 * time.Second, // 500 tokens at 6ms each
			wantLeft:    map[string]int64{"key:rps": 5, "key:rpm": 100, "key:tpm": 500, "team:tpm": 50000},
		},
		{
			name:        "several refuse: the longest wait decides",
			pre:         map[string]int64{"key:rps": 5, "team:tpm": 49_500},
			tokens:      1000,
			wantRefused: 3, // the team needs 500 tokens more: 600ms; rps needs 200ms
			wantRetry:   600 * time.Millisecond,
			wantLeft:    map[string]int64{"key:rps": 0, "key:rpm": 100, "key:tpm": 10_000, "team:tpm": 500},
		},
		{
			name:         "more than a burst: refused with an error naming the limit, nothing kept",
			tokens:       20_000,
			wantRefused:  2,
			wantErr:      ErrExceedsBurst,
			wantCode:     apperr.TooLarge,
			wantInErrMsg: "tokens per minute",
			wantLeft:     map[string]int64{"key:rps": 5, "key:rpm": 100, "key:tpm": 10_000, "team:tpm": 50000},
		},
	}
	rates := map[string]Rate{"key:rps": rps, "key:rpm": rpm, "key:tpm": tpm, "team:tpm": team}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory(MemoryOptions{Now: newClock().Now})
			ctx := context.Background()
			for key, n := range tt.pre {
				if res, err := m.Allow(ctx, key, rates[key], n); err != nil || !res.Allowed {
					t.Fatalf("pre-charging %s: %+v, %v", key, res, err)
				}
			}
			results, refused, err := AllowAll(ctx, m, checks(tt.tokens))
			if refused != tt.wantRefused {
				t.Fatalf("refused = %d, want %d (results %+v)", refused, tt.wantRefused, results)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || apperr.CodeOf(err) != tt.wantCode || !strings.Contains(apperr.From(err).Message, tt.wantInErrMsg) {
					t.Fatalf("err = %v (code %q), want %v with code %q naming %q", err, apperr.CodeOf(err), tt.wantErr, tt.wantCode, tt.wantInErrMsg)
				}
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			if len(results) != len(checks(0)) {
				t.Fatalf("%d results for 4 checks", len(results))
			}
			if tt.wantRefused >= 0 && tt.wantErr == nil {
				if got := results[refused]; got.Allowed || got.RetryAfter != tt.wantRetry {
					t.Fatalf("deciding result = %+v, want refused with RetryAfter %v", got, tt.wantRetry)
				}
			}
			for key, want := range tt.wantLeft {
				if got := remaining(t, m, key, rates[key]); got != want {
					t.Errorf("%s has %d left, want %d", key, got, want)
				}
			}
			// A refunded result shows the state after its refund.
			for i, c := range checks(tt.tokens) {
				if refused >= 0 && results[i].Allowed {
					if got := remaining(t, m, c.Key, c.Rate); results[i].Remaining != got {
						t.Errorf("results[%d].Remaining = %d, but %s has %d left", i, results[i].Remaining, c.Key, got)
					}
				}
			}
		})
	}
}

// failing is a Limiter over Memory whose Allow fails for one key and whose
// Adjust fails for another, recording whether Adjust saw a live context.
type failing struct {
	*Memory
	allowFails, adjustFails string
	adjustCtxErr            []error
}

var errBackend = errors.New("backend unreachable")

func (f *failing) Allow(ctx context.Context, key string, r Rate, n int64) (Result, error) {
	if key == f.allowFails {
		return Result{Limit: r.Limit}, errBackend
	}
	return f.Memory.Allow(ctx, key, r, n)
}

func (f *failing) Adjust(ctx context.Context, key string, r Rate, delta int64) error {
	f.adjustCtxErr = append(f.adjustCtxErr, ctx.Err())
	if key == f.adjustFails {
		return errBackend
	}
	return f.Memory.Adjust(ctx, key, r, delta)
}

func TestAllowAllBackendErrors(t *testing.T) {
	r := PerMinute(10)
	checks := []Check{
		{Key: "a", Rate: r, N: 1, Name: "a"},
		{Key: "b", Rate: r, N: 1, Name: "b"},
		{Key: "c", Rate: r, N: 1, Name: "c"},
	}

	t.Run("an Allow error refunds what was charged, even with ctx cancelled", func(t *testing.T) {
		f := &failing{Memory: NewMemory(MemoryOptions{Now: newClock().Now}), allowFails: "c"}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, refused, err := AllowAll(ctx, f, checks)
		if refused != 2 || !errors.Is(err, errBackend) {
			t.Fatalf("refused %d, err %v; want 2 and the backend error", refused, err)
		}
		for _, key := range []string{"a", "b"} {
			if got := remaining(t, f, key, r); got != 10 {
				t.Errorf("%s has %d left after the refund, want 10", key, got)
			}
		}
		if len(f.adjustCtxErr) != 2 {
			t.Fatalf("%d refunds, want 2", len(f.adjustCtxErr))
		}
		for i, e := range f.adjustCtxErr {
			if e != nil {
				t.Errorf("refund %d ran with a cancelled context: %v", i, e)
			}
		}
	})

	t.Run("a failed refund is reported and the others still refunded", func(t *testing.T) {
		f := &failing{Memory: NewMemory(MemoryOptions{Now: newClock().Now}), adjustFails: "a"}
		ctx := context.Background()
		if _, err := f.Allow(ctx, "c", r, 10); err != nil {
			t.Fatal(err)
		}
		_, refused, err := AllowAll(ctx, f, checks)
		if refused != 2 || !errors.Is(err, errBackend) || apperr.CodeOf(err) != apperr.Unavailable {
			t.Fatalf("refused %d, err %v (code %q); want 2 and an unavailable error", refused, err, apperr.CodeOf(err))
		}
		if got := remaining(t, f, "b", r); got != 10 {
			t.Errorf("b has %d left, want 10", got)
		}
	})

	t.Run("no checks: nothing refused", func(t *testing.T) {
		results, refused, err := AllowAll(context.Background(), NewMemory(MemoryOptions{}), nil)
		if len(results) != 0 || refused != -1 || err != nil {
			t.Fatalf("AllowAll(nil) = %v, %d, %v", results, refused, err)
		}
	})
}
