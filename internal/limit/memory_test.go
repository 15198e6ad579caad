package limit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
)

// clock is a test clock that only moves when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// step is one operation on a limiter in a GCRA test: after moving the
// clock by advance, either Allow n (checking want) or Adjust by delta.
type step struct {
	advance time.Duration
	adjust  bool
	n       int64 // units for Allow, delta for Adjust
	want    Result
	wantErr error
}

func allow(n int64, want Result) step { return step{n: n, want: want} }
func adjust(delta int64) step         { return step{adjust: true, n: delta} }
func after(d time.Duration, s step) step {
	s.advance = d
	return s
}

func TestMemoryGCRA(t *testing.T) {
	const ms = time.Millisecond
	third := time.Duration(333333334) // 1s/3, rounded up
	tests := []struct {
		name  string
		rate  Rate
		steps []step
	}{
		{
			name: "steady rate with burst 1 admits one per interval",
			rate: Rate{Limit: 10, Period: time.Second, Burst: 1},
			steps: []step{
				allow(1, Result{Allowed: true, Limit: 10, Remaining: 0, ResetAfter: 100 * ms}),
				allow(1, Result{Limit: 10, RetryAfter: 100 * ms, ResetAfter: 100 * ms}),
				after(100*ms, allow(1, Result{Allowed: true, Limit: 10, ResetAfter: 100 * ms})),
				after(50*ms, allow(1, Result{Limit: 10, RetryAfter: 50 * ms, ResetAfter: 50 * ms})),
				after(50*ms, allow(1, Result{Allowed: true, Limit: 10, ResetAfter: 100 * ms})),
			},
		},
		{
			name: "burst 0 means a full period at once",
			rate: PerMinute(60),
			steps: []step{
				allow(60, Result{Allowed: true, Limit: 60, Remaining: 0, ResetAfter: time.Minute}),
				allow(1, Result{Limit: 60, RetryAfter: time.Second, ResetAfter: time.Minute}),
				after(time.Second, allow(1, Result{Allowed: true, Limit: 60, ResetAfter: time.Minute})),
				after(10*time.Second, allow(0, Result{Allowed: true, Limit: 60, Remaining: 10, ResetAfter: 50 * time.Second})),
			},
		},
		{
			name: "uneven interval: singles use the whole burst, and the refusal is exact",
			rate: PerSecond(3),
			steps: []step{
				allow(1, Result{Allowed: true, Limit: 3, Remaining: 2, ResetAfter: third}),
				allow(1, Result{Allowed: true, Limit: 3, Remaining: 1, ResetAfter: 2 * third}),
				allow(1, Result{Allowed: true, Limit: 3, Remaining: 0, ResetAfter: 3 * third}),
				allow(1, Result{Limit: 3, RetryAfter: third, ResetAfter: 3 * third}),
				after(third-1, allow(1, Result{Limit: 3, RetryAfter: 1, ResetAfter: 2*third + 1})),
				after(1, allow(1, Result{Allowed: true, Limit: 3, ResetAfter: 3 * third})),
			},
		},
		{
			name: "refusal of many units says when they will fit",
			rate: PerMinute(100), // 600ms a unit
			steps: []step{
				allow(80, Result{Allowed: true, Limit: 100, Remaining: 20, ResetAfter: 48 * time.Second}),
				allow(30, Result{Limit: 100, Remaining: 20, RetryAfter: 6 * time.Second, ResetAfter: 48 * time.Second}),
				after(6*time.Second-ms, allow(30, Result{Limit: 100, Remaining: 29, RetryAfter: ms, ResetAfter: 42*time.Second + ms})),
				after(ms, allow(30, Result{Allowed: true, Limit: 100, Remaining: 0, ResetAfter: time.Minute})),
			},
		},
		{
			name: "adjust up puts the key in debt and later calls wait it off",
			rate: PerMinute(100),
			steps: []step{
				allow(10, Result{Allowed: true, Limit: 100, Remaining: 90, ResetAfter: 6 * time.Second}),
				adjust(190), // 200 units in all: 120s of drain, 60s past the window
				allow(0, Result{Limit: 100, RetryAfter: time.Minute, ResetAfter: 2 * time.Minute}),
				allow(1, Result{Limit: 100, RetryAfter: time.Minute + 600*ms, ResetAfter: 2 * time.Minute}),
				after(time.Minute, allow(0, Result{Allowed: true, Limit: 100, ResetAfter: time.Minute})),
				allow(1, Result{Limit: 100, RetryAfter: 600 * ms, ResetAfter: time.Minute}),
				after(600*ms, allow(1, Result{Allowed: true, Limit: 100, ResetAfter: time.Minute})),
			},
		},
		{
			name: "adjust down refunds, never past a full bucket",
			rate: PerMinute(100),
			steps: []step{
				allow(50, Result{Allowed: true, Limit: 100, Remaining: 50, ResetAfter: 30 * time.Second}),
				adjust(-30),
				allow(0, Result{Allowed: true, Limit: 100, Remaining: 80, ResetAfter: 12 * time.Second}),
				adjust(-1000),
				allow(0, Result{Allowed: true, Limit: 100, Remaining: 100}),
				allow(100, Result{Allowed: true, Limit: 100, Remaining: 0, ResetAfter: time.Minute}),
				allow(1, Result{Limit: 100, RetryAfter: 600 * ms, ResetAfter: time.Minute}),
			},
		},
		{
			name: "adjust on an idle key charges from now",
			rate: PerMinute(100),
			steps: []step{
				allow(100, Result{Allowed: true, Limit: 100, ResetAfter: time.Minute}),
				after(time.Hour, adjust(25)),
				allow(0, Result{Allowed: true, Limit: 100, Remaining: 75, ResetAfter: 15 * time.Second}),
			},
		},
		{
			name: "more than the burst can never fit and charges nothing",
			rate: PerMinute(10),
			steps: []step{
				{n: 11, want: Result{Limit: 10, Remaining: 10}, wantErr: ErrExceedsBurst},
				allow(10, Result{Allowed: true, Limit: 10, ResetAfter: time.Minute}),
				{n: 1 << 62, want: Result{Limit: 10, ResetAfter: time.Minute}, wantErr: ErrExceedsBurst},
			},
		},
		{
			name: "a burst above the limit lets an idle key save up",
			rate: Rate{Limit: 1, Period: time.Second, Burst: 5},
			steps: []step{
				allow(5, Result{Allowed: true, Limit: 1, Remaining: 0, ResetAfter: 5 * time.Second}),
				allow(1, Result{Limit: 1, RetryAfter: time.Second, ResetAfter: 5 * time.Second}),
				after(3*time.Second, allow(3, Result{Allowed: true, Limit: 1, Remaining: 0, ResetAfter: 5 * time.Second})),
			},
		},
		{
			name: "zero units on a fresh key reports a full bucket",
			rate: PerSecond(7),
			steps: []step{
				allow(0, Result{Allowed: true, Limit: 7, Remaining: 7}),
				allow(0, Result{Allowed: true, Limit: 7, Remaining: 7}),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			m := NewMemory(MemoryOptions{Now: clk.Now})
			ctx := context.Background()
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				if s.adjust {
					if err := m.Adjust(ctx, "k", tt.rate, s.n); err != nil {
						t.Fatalf("step %d: Adjust(%d): %v", i, s.n, err)
					}
					continue
				}
				got, err := m.Allow(ctx, "k", tt.rate, s.n)
				if !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d: Allow(%d) error = %v, want %v", i, s.n, err, s.wantErr)
				}
				if got != s.want {
					t.Fatalf("step %d: Allow(%d) =\n  %+v\nwant\n  %+v", i, s.n, got, s.want)
				}
			}
		})
	}
}

func TestMemoryExceedsBurstIsCallerFacing(t *testing.T) {
	m := NewMemory(MemoryOptions{Now: newClock().Now})
	_, err := m.Allow(context.Background(), "k", PerMinute(1000), 5000)
	if apperr.CodeOf(err) != apperr.TooLarge {
		t.Fatalf("code = %q, want %q (err %v)", apperr.CodeOf(err), apperr.TooLarge, err)
	}
	if !errors.Is(err, ErrExceedsBurst) {
		t.Fatalf("error %v does not wrap ErrExceedsBurst", err)
	}
	if m.Len() != 0 {
		t.Fatalf("a refused charge stored %d keys", m.Len())
	}
}

func TestMemoryRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		rate Rate
		n    int64
	}{
		{"zero limit", Rate{Limit: 0, Period: time.Second}, 1},
		{"negative limit", Rate{Limit: -5, Period: time.Second}, 1},
		{"zero period", Rate{Limit: 5}, 1},
		{"negative burst", Rate{Limit: 5, Period: time.Second, Burst: -1}, 1},
		{"finer than a nanosecond", Rate{Limit: 2_000_000_000, Period: time.Second}, 1},
		{"burst spanning centuries", Rate{Limit: 1, Period: 24 * time.Hour, Burst: 1 << 40}, 1},
		{"negative charge", PerSecond(5), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory(MemoryOptions{Now: newClock().Now})
			res, err := m.Allow(context.Background(), "k", tt.rate, tt.n)
			if err == nil || res.Allowed {
				t.Fatalf("Allow = %+v, %v; want a refusal with an error", res, err)
			}
			if tt.n >= 0 {
				if !errors.Is(err, ErrInvalidRate) {
					t.Fatalf("error %v does not wrap ErrInvalidRate", err)
				}
				if err := m.Adjust(context.Background(), "k", tt.rate, 1); !errors.Is(err, ErrInvalidRate) {
					t.Fatalf("Adjust error = %v, want ErrInvalidRate", err)
				}
				if err := tt.rate.Validate(); !errors.Is(err, ErrInvalidRate) {
					t.Fatalf("Validate = %v, want ErrInvalidRate", err)
				}
			}
			if m.Len() != 0 {
				t.Fatalf("refused input stored %d keys", m.Len())
			}
		})
	}
	for _, ok := range []Rate{PerSecond(1), PerMinute(1_000_000), {Limit: 1_000_000_000, Period: time.Second}, {Limit: 1, Period: time.Hour, Burst: 10_000}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", ok, err)
		}
	}
}

func TestMemoryAdjustExtremes(t *testing.T) {
	clk := newClock()
	m := NewMemory(MemoryOptions{Now: clk.Now})
	ctx := context.Background()
	r := PerSecond(1)
	for _, delta := range []int64{1 << 62, 1<<63 - 1, 1<<63 - 1} {
		if err := m.Adjust(ctx, "k", r, delta); err != nil {
			t.Fatal(err)
		}
	}
	res, err := m.Allow(ctx, "k", r, 1)
	if err != nil || res.Allowed || res.RetryAfter <= 0 || res.ResetAfter <= 0 {
		t.Fatalf("after a huge debt Allow = %+v, %v; want a refusal with a positive wait", res, err)
	}
	if err := m.Adjust(ctx, "k", r, -1<<63); err != nil {
		t.Fatal(err)
	}
	if res, _ := m.Allow(ctx, "k", r, 1); !res.Allowed {
		t.Fatalf("after the largest refund Allow = %+v, want allowed", res)
	}
}

func TestMemoryKeysAreIndependent(t *testing.T) {
	clk := newClock()
	m := NewMemory(MemoryOptions{Now: clk.Now, Shards: 8})
	ctx := context.Background()
	r := Rate{Limit: 1, Period: time.Second, Burst: 1}
	const keys = 1000
	for i := range keys {
		key := fmt.Sprintf("key-%d", i)
		if res, err := m.Allow(ctx, key, r, 1); err != nil || !res.Allowed {
			t.Fatalf("first call for %s = %+v, %v", key, res, err)
		}
	}
	for i := range keys {
		key := fmt.Sprintf("key-%d", i)
		if res, err := m.Allow(ctx, key, r, 1); err != nil || res.Allowed {
			t.Fatalf("second call for %s = %+v, %v; want refused", key, res, err)
		}
	}
	if got := m.Len(); got != keys {
		t.Fatalf("Len = %d, want %d", got, keys)
	}
	clk.Advance(time.Second - 1)
	if got := m.Sweep(); got != 0 {
		t.Fatalf("Sweep before the buckets refill dropped %d", got)
	}
	clk.Advance(1)
	if got := m.Sweep(); got != keys {
		t.Fatalf("Sweep dropped %d, want %d", got, keys)
	}
	if got := m.Len(); got != 0 {
		t.Fatalf("Len after Sweep = %d, want 0", got)
	}
}

func TestMemorySweepsAsItGrows(t *testing.T) {
	clk := newClock()
	const shards = 4
	m := NewMemory(MemoryOptions{Now: clk.Now, Shards: shards})
	ctx := context.Background()
	r := Rate{Limit: 1, Period: time.Millisecond, Burst: 1}
	const keys = 100_000
	for i := range keys {
		if _, err := m.Allow(ctx, fmt.Sprintf("ip-%d", i), r, 1); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Millisecond) // every earlier key is idle again
	}
	// Every key but the newest is idle, so each shard stays below the
	// size at which it sweeps.
	if got := m.Len(); got > shards*minSweep {
		t.Fatalf("Len = %d after %d short-lived keys, want at most %d", got, keys, shards*minSweep)
	}
}

func TestMemoryShardsRoundUp(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{0, 64}, {-3, 64}, {1, 1}, {3, 4}, {64, 64}, {100, 128}} {
		if got := len(NewMemory(MemoryOptions{Shards: tt.in}).shards); got != tt.want {
			t.Errorf("Shards %d gave %d shards, want %d", tt.in, got, tt.want)
		}
	}
}

// TestMemoryConcurrentChargesNeverExceedBurst charges one key from many
// goroutines with the clock stopped: exactly the burst must get through.
func TestMemoryConcurrentChargesNeverExceedBurst(t *testing.T) {
	m := NewMemory(MemoryOptions{Now: newClock().Now})
	r := PerMinute(500)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 100 {
				res, err := m.Allow(context.Background(), "hot", r, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 500 {
		t.Fatalf("%d charges allowed, want exactly the burst of 500", got)
	}
}

// FuzzMemoryNeverExceedsRate drives one key with arbitrary charges and
// clock steps and checks the GCRA promise: over any run, what is allowed
// never exceeds the burst plus what drained meanwhile, and a refusal
// changes nothing.
func FuzzMemoryNeverExceedsRate(f *testing.F) {
	f.Add(int64(10), int64(1000), int64(0), []byte{1, 0, 5, 3, 10, 200, 2, 7})
	f.Add(int64(3), int64(1000), int64(1), []byte{0, 0, 0, 0, 255, 1})
	f.Add(int64(100000), int64(60000), int64(500), []byte{50, 10, 90, 0, 3, 3})
	f.Fuzz(func(t *testing.T, limit, periodMS, burst int64, ops []byte) {
		// Fold the inputs into valid rates (invalid ones are covered by
		// TestMemoryRefusesBadInput): up to a million units per 1ms..1h,
		// bursts up to ten thousand.
		abs := func(v int64) int64 { return int64(uint64(v) >> 1) }
		r := Rate{
			Limit:  1 + abs(limit)%1_000_000,
			Period: time.Duration(1+abs(periodMS)%3_600_000) * time.Millisecond,
			Burst:  abs(burst) % 10_000,
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("folded rate %+v: %v", r, err)
		}
		clk := newClock()
		m := NewMemory(MemoryOptions{Now: clk.Now})
		ctx := context.Background()
		b := r.burst()
		var charged int64
		var elapsed time.Duration
		for i := 0; i+1 < len(ops); i += 2 {
			step := time.Duration(ops[i]) * r.interval() / 16
			clk.Advance(step)
			elapsed += step
			n := int64(ops[i+1]) * max(b/64, 1)
			before, _ := m.Allow(ctx, "k", r, 0)
			res, err := m.Allow(ctx, "k", r, n)
			if err != nil {
				if n <= b || !errors.Is(err, ErrExceedsBurst) {
					t.Fatalf("Allow(%d) with burst %d: %v", n, b, err)
				}
			}
			if res.Remaining < 0 || res.Remaining > b || res.ResetAfter < 0 || res.RetryAfter < 0 {
				t.Fatalf("Allow(%d) = %+v: out of range for burst %d", n, res, b)
			}
			if res.Allowed {
				charged += n
				if res.RetryAfter != 0 {
					t.Fatalf("allowed with RetryAfter %v", res.RetryAfter)
				}
			} else {
				if err == nil && res.RetryAfter <= 0 {
					t.Fatalf("refused %d with no wait: %+v", n, res)
				}
				if after, _ := m.Allow(ctx, "k", r, 0); after.Remaining != before.Remaining || after.ResetAfter != before.ResetAfter {
					t.Fatalf("a refusal changed the state: %+v then %+v", before, after)
				}
			}
			if drained := int64(elapsed / r.interval()); charged > b+drained {
				t.Fatalf("charged %d in %v, more than burst %d plus %d drained", charged, elapsed, b, drained)
			}
		}
	})
}
