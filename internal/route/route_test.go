package route

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// within reports whether got is within 5 standard deviations of the
// binomial expectation n*p.
func within(got, n int, p float64) bool {
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(got)-mean) <= 5*sd
}

func TestWeightedFirstPick(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		want    []float64 // share of first picks
	}{
		{"weighted 1:3:6", []int{1, 3, 6}, []float64{0.1, 0.3, 0.6}},
		{"zero weight means 1", []int{0, 1, 2}, []float64{0.25, 0.25, 0.5}},
		{"equal", []int{5, 5}, []float64{0.5, 0.5}},
		{"single", []int{7}, []float64{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var deps []Deployment
			for i, w := range tt.weights {
				deps = append(deps, dep(fmt.Sprint("d", i), w))
			}
			c := newClock()
			r := mustNew(t, map[string]Model{"m": {Deployments: deps}}, withClock(Options{Rand: seededRand(1)}, c))
			const n = 40000
			counts := map[string]int{}
			for range n {
				st, err := r.Do(context.Background(), "m", func(context.Context, Deployment) error { return nil })
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				counts[st.Deployment.ID]++
			}
			for i, p := range tt.want {
				if got := counts[fmt.Sprint("d", i)]; !within(got, n, p) {
					t.Errorf("d%d picked first %d of %d times, want about %.0f", i, got, n, p*n)
				}
			}
		})
	}
}

// TestPickOrderDistribution checks the whole order, not only the first
// pick: sampling without replacement by weight gives each permutation
// (i, j, k) the probability w_i/W * w_j/(W-w_i).
func TestPickOrderDistribution(t *testing.T) {
	w := []int{1, 3, 6}
	r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", w[0]), dep("b", w[1]), dep("c", w[2])}}}, Options{})
	m := r.models["m"]
	rnd := seededRand(7)
	const n = 60000
	counts := map[[3]int]int{}
	for range n {
		var p picker
		p.reset(m)
		var order [3]int
		for k := range order {
			order[k] = p.next(m, rnd)
		}
		if p.left != 0 || p.rem != 0 {
			t.Fatalf("picker left %d deployments, weight %d after a full draw", p.left, p.rem)
		}
		counts[order]++
	}
	total := 10.0
	perms := [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	seen := 0
	for _, o := range perms {
		p := float64(w[o[0]]) / total * float64(w[o[1]]) / (total - float64(w[o[0]]))
		seen += counts[o]
		if !within(counts[o], n, p) {
			t.Errorf("order %v drawn %d of %d times, want about %.0f", o, counts[o], n, p*n)
		}
	}
	if seen != n {
		t.Errorf("%d draws were not permutations of the three deployments", n-seen)
	}
}

func TestPickerManyDeployments(t *testing.T) {
	var deps []Deployment
	for i := range 100 {
		deps = append(deps, dep(fmt.Sprint("d", i), 1+i%3))
	}
	rec := newRecorder(map[string]error{})
	for _, d := range deps {
		rec.set(d.ID, retryable(503))
	}
	c := newClock()
	r := mustNew(t, map[string]Model{"m": {Deployments: deps}}, withClock(Options{MaxRetries: NoRetries, BreakerFailures: 1 << 30, Rand: seededRand(3)}, c))
	st, err := r.Do(context.Background(), "m", rec.attempt)
	if err == nil {
		t.Fatal("Do succeeded with every deployment failing")
	}
	calls := rec.Calls()
	slices.Sort(calls)
	if st.Attempts != 100 || len(slices.Compact(calls)) != 100 {
		t.Errorf("Do made %d attempts on %d distinct deployments, want each of 100 once", st.Attempts, len(slices.Compact(calls)))
	}
}

func TestEachDeploymentOncePerDo(t *testing.T) {
	rec := newRecorder(map[string]error{"a": retryable(500), "b": retryable(502), "c": retryable(504)})
	c := newClock()
	r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1), dep("b", 2), dep("c", 3)}}},
		withClock(Options{MaxRetries: NoRetries, BreakerFailures: 100, Rand: seededRand(5)}, c))
	for range 20 {
		rec.calls = nil
		st, err := r.Do(context.Background(), "m", rec.attempt)
		if err == nil {
			t.Fatal("Do succeeded with every deployment failing")
		}
		calls := rec.Calls()
		slices.Sort(calls)
		if !slices.Equal(calls, []string{"a", "b", "c"}) || st.Attempts != 3 || st.Retries != 0 {
			t.Fatalf("calls %v, stats %+v; want each deployment once", calls, st)
		}
	}
}

func TestRetriesAndBackoff(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name       string
		opts       Options
		wantSleeps []time.Duration
	}{
		{"defaults", Options{Rand: constRand(0.5)}, []time.Duration{100 * ms, 200 * ms}},
		{"no retries", Options{MaxRetries: NoRetries, Rand: constRand(0.5)}, nil},
		{"doubling capped at MaxDelay", Options{MaxRetries: 4, BaseDelay: 100 * ms, MaxDelay: 300 * ms, Rand: constRand(0.5)},
			[]time.Duration{50 * ms, 100 * ms, 150 * ms, 150 * ms}},
		{"jitter at zero", Options{Rand: constRand(0)}, []time.Duration{0, 0}},
		{"out-of-range rand is clamped", Options{MaxRetries: 1, BaseDelay: time.Second, Rand: constRand(7)}, []time.Duration{time.Second - 1}},
		{"huge retry count does not overflow", Options{MaxRetries: 70, BaseDelay: time.Nanosecond, MaxDelay: time.Millisecond, MaxTotal: time.Hour, BreakerFailures: 1 << 30, Rand: constRand(0.5)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			rec := newRecorder(map[string]error{"a": retryable(503)})
			r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1)}}}, withClock(tt.opts, c))
			st, err := r.Do(context.Background(), "m", rec.attempt)
			var re *Retryable
			if !errors.As(err, &re) || re.Status != 503 {
				t.Fatalf("Do error %v, want the upstream's 503 as a *Retryable", err)
			}
			sleeps := c.Sleeps()
			if tt.wantSleeps != nil && !slices.Equal(sleeps, tt.wantSleeps) {
				t.Errorf("sleeps %v, want %v", sleeps, tt.wantSleeps)
			}
			for _, s := range sleeps {
				if s < 0 || s >= max(r.o.MaxDelay, time.Nanosecond) {
					t.Errorf("sleep %v outside [0, MaxDelay %v)", s, r.o.MaxDelay)
				}
			}
			if st.Attempts != r.o.MaxRetries+1 || st.Retries != r.o.MaxRetries || len(sleeps) != r.o.MaxRetries {
				t.Errorf("stats %+v with %d sleeps, want %d retries", st, len(sleeps), r.o.MaxRetries)
			}
		})
	}
}

func TestBackoffFullJitterRange(t *testing.T) {
	ms := time.Millisecond
	caps := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms}
	c := newClock()
	r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1)}}},
		withClock(Options{MaxRetries: len(caps), BaseDelay: 100 * ms, MaxDelay: time.Second, BreakerFailures: 1 << 30, Rand: seededRand(11)}, c))
	fail := func(context.Context, Deployment) error { return retryable(500) }
	lo := slices.Repeat([]time.Duration{time.Hour}, len(caps))
	hi := make([]time.Duration, len(caps))
	for range 2000 {
		before := len(c.Sleeps())
		if _, err := r.Do(context.Background(), "m", fail); err == nil {
			t.Fatal("Do succeeded with a failing deployment")
		}
		sleeps := c.Sleeps()[before:]
		if len(sleeps) != len(caps) {
			t.Fatalf("%d sleeps, want %d", len(sleeps), len(caps))
		}
		for i, s := range sleeps {
			if s < 0 || s >= caps[i] {
				t.Fatalf("sleep before retry %d is %v, outside [0, %v)", i, s, caps[i])
			}
			lo[i], hi[i] = min(lo[i], s), max(hi[i], s)
		}
	}
	for i := range caps {
		if lo[i] > caps[i]/20 || hi[i] < caps[i]*19/20 {
			t.Errorf("retry %d sleeps spanned [%v, %v], want nearly all of [0, %v)", i, lo[i], hi[i], caps[i])
		}
	}
}

func TestRetryAfter(t *testing.T) {
	ms := time.Millisecond
	s := time.Second
	tests := []struct {
		name         string
		retries      int
		retryAfter   time.Duration
		attemptCost  time.Duration
		base         time.Duration
		second       bool // a healthy second deployment exists
		wantSleeps   []time.Duration
		wantAttempts int
		wantServed   bool
	}{
		{"honored", 2, 3 * s, 0, 0, false, []time.Duration{3 * s, 3 * s}, 3, false},
		{"backoff when none", 2, 0, 0, 0, false, []time.Duration{80 * ms, 160 * ms}, 3, false},
		{"backoff when longer", 2, 10 * ms, 0, s, false, []time.Duration{400 * ms, 800 * ms}, 3, false},
		{"beyond budget: stop", 2, 30 * s, 0, 0, false, nil, 1, false},
		{"beyond budget: next deployment at once", 2, 30 * s, 0, 0, true, nil, 2, true},
		{"budget used up by sleeps", 5, 4 * s, 0, 0, false, []time.Duration{4 * s, 4 * s}, 3, false},
		{"budget used up by slow attempts", 5, 0, 4 * s, 0, false, []time.Duration{80 * ms, 160 * ms}, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			deps := []Deployment{dep("a", 1)}
			if tt.second {
				deps = append(deps, dep("b", 1))
			}
			r := mustNew(t, map[string]Model{"m": {Deployments: deps}},
				withClock(Options{MaxRetries: tt.retries, BaseDelay: tt.base, MaxTotal: 10 * s, Rand: constRand(0.4)}, c))
			// Rand 0.4 also decides the order: with equal weights, a first.
			attempt := func(_ context.Context, d Deployment) error {
				c.Advance(tt.attemptCost)
				if d.ID == "b" {
					return nil
				}
				return &Retryable{Status: 429, RetryAfter: tt.retryAfter, Err: errors.New("slow down")}
			}
			st, err := r.Do(context.Background(), "m", attempt)
			if got := c.Sleeps(); !slices.Equal(got, tt.wantSleeps) {
				t.Errorf("sleeps %v, want %v", got, tt.wantSleeps)
			}
			if st.Attempts != tt.wantAttempts {
				t.Errorf("%d attempts, want %d", st.Attempts, tt.wantAttempts)
			}
			if tt.wantServed {
				if err != nil || st.Deployment.ID != "b" {
					t.Errorf("Do = %v on %s, want success on b", err, st.Deployment.ID)
				}
				return
			}
			var re *Retryable
			if !errors.As(err, &re) || re.Status != 429 {
				t.Errorf("Do error %v, want the upstream's 429", err)
			}
		})
	}
}

func TestFallbackOrderAndStats(t *testing.T) {
	models := map[string]Model{
		"a": {Deployments: []Deployment{dep("a1", 1), dep("a2", 1)}, Fallbacks: []string{"b", "c"}},
		"b": {Deployments: []Deployment{dep("b1", 1)}, Fallbacks: []string{"d"}},
		"c": {Deployments: []Deployment{dep("c1", 1)}, Fallbacks: []string{"d"}},
		"d": {Deployments: []Deployment{dep("d1", 1)}},
	}
	lastErr := &Retryable{Status: 502, Err: errors.New("d1 is down")}
	tests := []struct {
		name      string
		results   map[string]error
		wantCalls []string // a1/a2 order is random: compared as a set
		wantModel string
		wantDep   string
		wantFb    int
		wantErr   error
	}{
		{"served by the primary", map[string]error{"a1": nil, "a2": nil}, []string{"a?"}, "a", "", 0, nil},
		{"breadth first, each model once", map[string]error{"a1": retryable(503), "a2": retryable(503), "b1": retryable(503), "c1": retryable(503)},
			[]string{"a?", "a?", "b1", "c1", "d1"}, "d", "d1", 3, nil},
		{"first fallback serves", map[string]error{"a1": retryable(500), "a2": retryable(500)},
			[]string{"a?", "a?", "b1"}, "b", "b1", 1, nil},
		{"all fail: the last error", map[string]error{"a1": retryable(503), "a2": retryable(503), "b1": retryable(503), "c1": retryable(503), "d1": lastErr},
			[]string{"a?", "a?", "b1", "c1", "d1"}, "d", "d1", 3, lastErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			r := mustNew(t, models, withClock(Options{MaxRetries: NoRetries, Rand: seededRand(2)}, c))
			rec := newRecorder(tt.results)
			st, err := r.Do(context.Background(), "a", rec.attempt)
			calls := rec.Calls()
			masked := make([]string, len(calls))
			for i, id := range calls {
				masked[i] = id
				if strings.HasPrefix(id, "a") {
					masked[i] = "a?"
				}
			}
			if !slices.Equal(masked, tt.wantCalls) {
				t.Errorf("calls %v, want %v", calls, tt.wantCalls)
			}
			if st.Model != tt.wantModel || st.Fallbacks != tt.wantFb || st.Attempts != len(tt.wantCalls) {
				t.Errorf("stats %+v, want model %s, %d fallbacks, %d attempts", st, tt.wantModel, tt.wantFb, len(tt.wantCalls))
			}
			if tt.wantDep != "" && st.Deployment.ID != tt.wantDep {
				t.Errorf("last deployment %s, want %s", st.Deployment.ID, tt.wantDep)
			}
			if tt.wantErr == nil && err != nil {
				t.Errorf("Do: %v", err)
			}
			if tt.wantErr != nil {
				var re *Retryable
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &re) || re.Status != 502 || !strings.Contains(err.Error(), "d1 is down") {
					t.Errorf("Do error %v, want the last attempt's (%v) wrapped", err, tt.wantErr)
				}
			}
		})
	}
}

func TestNonRetryableStopsAtOnce(t *testing.T) {
	refused := errors.New("upstream 400: bad request")
	tests := []struct {
		name         string
		results      map[string]error
		wantErr      error
		wantAttempts int
	}{
		{"plain error on first try", map[string]error{"a": refused, "b": refused}, refused, 1},
		{"after a retryable failure", map[string]error{"a": retryable(503), "b": refused}, refused, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			// Rand 0 draws a before b.
			r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1), dep("b", 1)}, Fallbacks: []string{"f"}},
				"f": {Deployments: []Deployment{dep("f", 1)}}},
				withClock(Options{MaxRetries: NoRetries, Rand: constRand(0)}, c))
			rec := newRecorder(tt.results)
			st, err := r.Do(context.Background(), "m", rec.attempt)
			if err != tt.wantErr {
				t.Errorf("Do error %v, want %v returned as is", err, tt.wantErr)
			}
			if st.Attempts != tt.wantAttempts || len(rec.Calls()) != tt.wantAttempts || len(c.Sleeps()) != 0 {
				t.Errorf("stats %+v, calls %v, sleeps %v; want %d attempts and no sleep", st, rec.Calls(), c.Sleeps(), tt.wantAttempts)
			}
		})
	}
}

func TestWrappedRetryableIsRetried(t *testing.T) {
	c := newClock()
	r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1)}}}, withClock(Options{Rand: constRand(0)}, c))
	var n atomic.Int32
	st, err := r.Do(context.Background(), "m", func(context.Context, Deployment) error {
		if n.Add(1) < 3 {
			return fmt.Errorf("calling a: %w", retryable(502))
		}
		return nil
	})
	if err != nil || st.Attempts != 3 || st.Retries != 2 {
		t.Errorf("Do = %v, stats %+v; want success on the third try", err, st)
	}
}

func TestCancelDuringSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sleeping := make(chan time.Duration, 1)
	r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1)}}}, Options{
		BaseDelay: time.Hour, MaxDelay: 2 * time.Hour, MaxTotal: 10 * time.Hour, Rand: constRand(0.5),
		// The real sleep, which only the cancel below can end.
		Sleep: func(ctx context.Context, d time.Duration) error {
			sleeping <- d
			return sleep(ctx, d)
		},
	})
	go func() {
		<-sleeping
		cancel()
	}()
	st, err := r.Do(ctx, "m", func(context.Context, Deployment) error { return retryable(503) })
	if !errors.Is(err, context.Canceled) || st.Attempts != 1 {
		t.Errorf("Do = %v after %d attempts, want context.Canceled after 1", err, st.Attempts)
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name         string
		cancelBefore bool
		wantAttempts int
	}{
		{"before Do", true, 0},
		{"during the attempt", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1)}}}, withClock(Options{BreakerFailures: 1}, c))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelBefore {
				cancel()
			}
			st, err := r.Do(ctx, "m", func(context.Context, Deployment) error {
				cancel()
				return retryable(504)
			})
			if !errors.Is(err, context.Canceled) || st.Attempts != tt.wantAttempts {
				t.Errorf("Do = %v after %d attempts, want context.Canceled after %d", err, st.Attempts, tt.wantAttempts)
			}
			// The caller leaving is not the deployment's fault.
			if s := r.BreakerState("a"); s != "closed" {
				t.Errorf("breaker %s, want closed", s)
			}
		})
	}
}

func TestContextDeadlineBoundsSleep(t *testing.T) {
	c := newClock()
	r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1)}}},
		withClock(Options{BaseDelay: 2 * time.Hour, MaxDelay: 4 * time.Hour, MaxTotal: 10 * time.Hour, Rand: constRand(0.9)}, c))
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	st, err := r.Do(ctx, "m", func(context.Context, Deployment) error { return retryable(503) })
	var re *Retryable
	if !errors.As(err, &re) || st.Attempts != 1 || len(c.Sleeps()) != 0 {
		t.Errorf("Do = %v, %d attempts, sleeps %v; want the upstream error without sleeping past the deadline", err, st.Attempts, c.Sleeps())
	}
}

func TestUnknownModel(t *testing.T) {
	r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1)}}}, Options{})
	called := false
	st, err := r.Do(context.Background(), "nope", func(context.Context, Deployment) error { called = true; return nil })
	if !errors.Is(err, ErrUnknownModel) || called || st.Attempts != 0 || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Do = %v (called %v), want ErrUnknownModel naming the model and no attempt", err, called)
	}
}

func TestNew(t *testing.T) {
	ok := []Deployment{{Provider: "openai", Model: "gpt-4o-mini"}}
	tests := []struct {
		name   string
		models map[string]Model
		opts   Options
		want   []string // every problem expected, as message fragments
	}{
		{"valid", map[string]Model{"a": {Deployments: ok, Fallbacks: []string{"b"}}, "b": {Deployments: ok}}, Options{}, nil},
		{"no models", nil, Options{}, nil},
		{"empty model", map[string]Model{"a": {}}, Options{}, []string{`model "a" has no deployments`}},
		{"unknown fallback", map[string]Model{"a": {Deployments: ok, Fallbacks: []string{"zz"}}}, Options{}, []string{`falls back to "zz", which is not a configured model`}},
		{"self fallback", map[string]Model{"a": {Deployments: ok, Fallbacks: []string{"a"}}}, Options{}, []string{`fallback cycle "a" → "a"`}},
		{"two-model cycle", map[string]Model{"b": {Deployments: ok, Fallbacks: []string{"a"}}, "a": {Deployments: ok, Fallbacks: []string{"b"}}}, Options{},
			[]string{`fallback cycle "a" → "b" → "a"`}},
		{"id names two targets", map[string]Model{
			"a": {Deployments: []Deployment{{ID: "x", Provider: "openai", Model: "gpt-4o"}}},
			"b": {Deployments: []Deployment{{ID: "x", Provider: "anthropic", Model: "claude"}}}}, Options{},
			[]string{`deployment id "x" is openai/gpt-4o in model "a" but anthropic/claude in model "b"`}},
		{"bad options", map[string]Model{"a": {Deployments: ok}}, Options{BaseDelay: -1, MaxTotal: -time.Second, BreakerFailures: -2},
			[]string{"option BaseDelay is -1ns", "option MaxTotal is -1s", "option BreakerFailures is -2"}},
		{"base above max", map[string]Model{"a": {Deployments: ok}}, Options{BaseDelay: time.Minute, MaxDelay: time.Second},
			[]string{"BaseDelay 1m0s exceeds MaxDelay 1s"}},
		{"everything at once", map[string]Model{
			"a": {Fallbacks: []string{"zz"}},
			"b": {Deployments: []Deployment{{Weight: -1}, {ID: "dup", Provider: "p", Model: "m"}, {ID: "dup", Provider: "p", Model: "m"}}, Fallbacks: []string{"c"}},
			"c": {Deployments: ok, Fallbacks: []string{"b", "d"}},
			"d": {Deployments: ok, Fallbacks: []string{"d", "e", "e"}},
			"e": {Deployments: ok, Fallbacks: []string{"b"}},
			"":  {Deployments: ok},
		}, Options{MaxDelay: -time.Second}, []string{
			"option MaxDelay is -1s",
			"a model has an empty name",
			`model "a" has no deployments`,
			`model "a" falls back to "zz"`,
			`model "b" deployment 0 has no provider`,
			`model "b" deployment 0 has no upstream model name`,
			`model "b" deployment 0 has weight -1`,
			`model "b" lists deployment "dup" twice`,
			`model "d" lists fallback "e" twice`,
			`fallback cycle "b" → "c" → "b"`,
			`fallback cycle "d" → "d"`,
			`fallback cycle "b" → "c" → "d" → "e" → "b"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.models, tt.opts)
			if len(tt.want) == 0 {
				if err != nil || r == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New accepted an invalid table")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			if want := fmt.Sprintf("(%d problems)", len(tt.want)); !strings.Contains(msg, want) {
				t.Errorf("error should report %s:\n%s", want, msg)
			}
		})
	}
}

func TestQueries(t *testing.T) {
	r := mustNew(t, map[string]Model{
		"zeta":  {Deployments: []Deployment{{Provider: "openai", Model: "gpt-4o"}, {Provider: "openai", Model: "gpt-4o", Weight: 3}, {Provider: "azure", Model: "gpt-4o"}}},
		"alpha": {Deployments: []Deployment{{Provider: "openai", Model: "gpt-4o"}}},
	}, Options{})
	if got := r.Models(); !slices.Equal(got, []string{"alpha", "zeta"}) {
		t.Errorf("Models() = %v", got)
	}
	r.Models()[0] = "changed"
	if !r.Has("alpha") || r.Has("changed") || r.Has("") {
		t.Error("Has disagrees with the table, or Models leaked its slice")
	}
	want := []Deployment{
		{ID: "openai/gpt-4o#0", Provider: "openai", Model: "gpt-4o", Weight: 1},
		{ID: "openai/gpt-4o#1", Provider: "openai", Model: "gpt-4o", Weight: 3},
		{ID: "azure/gpt-4o#0", Provider: "azure", Model: "gpt-4o", Weight: 1},
	}
	if got := r.Deployments("zeta"); !slices.Equal(got, want) {
		t.Errorf("Deployments = %+v, want %+v", got, want)
	}
	if r.Deployments("nope") != nil {
		t.Error("Deployments of an unknown model should be nil")
	}
	if s := r.BreakerState("openai/gpt-4o#0"); s != "closed" {
		t.Errorf("BreakerState = %q, want closed", s)
	}
	if s := r.BreakerState("nope"); s != "" {
		t.Errorf("BreakerState of an unknown id = %q, want empty", s)
	}
}

func TestErrorTexts(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&Retryable{Err: errors.New("dial tcp: refused")}, "upstream connection failed: dial tcp: refused"},
		{&Retryable{Status: 429, RetryAfter: 2 * time.Second, Err: errors.New("slow down")}, "upstream status 429 (retry after 2s): slow down"},
		{&Retryable{Status: 503}, "upstream status 503"},
		{&UnavailableError{Model: "m", RetryAfter: time.Second}, `route: no deployment available: every deployment of model "m" (and its fallbacks) is failing and its circuit breaker is open; retry in 1s`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	inner := errors.New("inner")
	if !errors.Is(&Retryable{Err: inner}, inner) {
		t.Error("Retryable does not unwrap to its Err")
	}
}

func TestIsRetryableStatus(t *testing.T) {
	for status, want := range map[int]bool{200: false, 400: false, 401: false, 404: false, 408: true, 413: false, 429: true, 500: true, 501: false, 502: true, 503: true, 504: true, 529: true, 530: false} {
		if got := IsRetryableStatus(status); got != want {
			t.Errorf("IsRetryableStatus(%d) = %v, want %v", status, got, want)
		}
	}
}

func BenchmarkDo(b *testing.B) {
	r := mustNew(b, map[string]Model{"m": {Deployments: []Deployment{
		{Provider: "openai", Model: "gpt-4o-mini", Weight: 2},
		{Provider: "azure", Model: "gpt-4o-mini"},
		{Provider: "openai", Model: "gpt-4o-mini"},
	}}}, Options{})
	ok := func(context.Context, Deployment) error { return nil }
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Do(ctx, "m", ok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
