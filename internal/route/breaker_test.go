package route

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBreakerSequences(t *testing.T) {
	const (
		S = "success"
		F = "retryable failure"
		X = "refused (not the deployment's fault)"
	)
	type step struct {
		advance   time.Duration
		result    string
		attempted bool   // whether the call reached the deployment
		state     string // BreakerState after the step
	}
	cooldown := 30 * time.Second
	open3 := []step{{0, F, true, "closed"}, {0, F, true, "closed"}, {0, F, true, "open"}}
	tests := []struct {
		name  string
		steps []step
	}{
		{"opens after 3 consecutive failures and skips", append(open3[:3:3], step{0, S, false, "open"})},
		{"success resets the count", []step{{0, F, true, "closed"}, {0, F, true, "closed"}, {0, S, true, "closed"}, {0, F, true, "closed"}, {0, F, true, "closed"}}},
		{"refusals neither count nor reset", []step{{0, F, true, "closed"}, {0, F, true, "closed"}, {0, X, true, "closed"}, {0, X, true, "closed"}, {0, F, true, "open"}}},
		{"half-open after cooldown, success closes", append(open3[:3:3],
			step{cooldown - time.Second, S, false, "open"},
			step{time.Second, S, true, "closed"},
			step{0, S, true, "closed"})},
		{"half-open shows before the trial", append(open3[:3:3], step{cooldown, "", false, "half-open"})},
		{"trial failure re-opens for a full cooldown", append(open3[:3:3],
			step{cooldown, F, true, "open"},
			step{cooldown - time.Second, S, false, "open"},
			step{time.Second, S, true, "closed"})},
		{"refused trial lets the next call try", append(open3[:3:3],
			step{cooldown, X, true, "half-open"},
			step{0, S, true, "closed"})},
		{"after closing it takes 3 failures again", append(open3[:3:3],
			step{cooldown, S, true, "closed"},
			step{0, F, true, "closed"}, step{0, F, true, "closed"}, step{0, F, true, "open"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1)}}},
				withClock(Options{MaxRetries: NoRetries, BreakerFailures: 3, BreakerCooldown: cooldown}, c))
			refused := errors.New("400")
			for i, s := range tt.steps {
				c.Advance(s.advance)
				if s.result != "" {
					called := false
					st, err := r.Do(context.Background(), "m", func(context.Context, Deployment) error {
						called = true
						switch s.result {
						case F:
							return retryable(503)
						case X:
							return refused
						}
						return nil
					})
					if called != s.attempted || (st.Attempts == 1) != s.attempted {
						t.Fatalf("step %d: attempted %v (stats %+v), want %v", i, called, st, s.attempted)
					}
					if !s.attempted && (!errors.Is(err, ErrUnavailable) || st.Skipped != 1) {
						t.Fatalf("step %d: Do = %v, stats %+v; want ErrUnavailable with one skip", i, err, st)
					}
				}
				if got := r.BreakerState("a"); got != s.state {
					t.Fatalf("step %d: breaker %s, want %s", i, got, s.state)
				}
			}
		})
	}
}

func TestBreakerSkipsOpenDeployment(t *testing.T) {
	c := newClock()
	rec := newRecorder(map[string]error{"a": retryable(500), "b": nil})
	// Rand 0 draws a first whenever it is available.
	r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1), dep("b", 1)}}},
		withClock(Options{MaxRetries: NoRetries, BreakerFailures: 2, Rand: constRand(0)}, c))
	for range 2 {
		if st, err := r.Do(context.Background(), "m", rec.attempt); err != nil || st.Attempts != 2 || st.Deployment.ID != "b" {
			t.Fatalf("Do = %v, stats %+v; want a to fail over to b", err, st)
		}
	}
	st, err := r.Do(context.Background(), "m", rec.attempt)
	if err != nil || st.Attempts != 1 || st.Skipped != 1 || st.Deployment.ID != "b" {
		t.Errorf("Do = %v, stats %+v; want a skipped and b serving", err, st)
	}
}

func TestAllOpenUnavailable(t *testing.T) {
	c := newClock()
	cooldown := 30 * time.Second
	// Same ids in several models are one target and share one breaker.
	r := mustNew(t, map[string]Model{
		"m": {Deployments: []Deployment{dep("a", 1)}, Fallbacks: []string{"f"}},
		"f": {Deployments: []Deployment{dep("b", 1)}},
		"x": {Deployments: []Deployment{dep("a", 1)}},
		"y": {Deployments: []Deployment{dep("b", 1)}},
	}, withClock(Options{MaxRetries: NoRetries, BreakerFailures: 1, BreakerCooldown: cooldown}, c))
	fail := func(context.Context, Deployment) error { return retryable(503) }
	if _, err := r.Do(context.Background(), "x", fail); err == nil {
		t.Fatal("Do on x succeeded")
	}
	c.Advance(10 * time.Second)
	if _, err := r.Do(context.Background(), "y", fail); err == nil {
		t.Fatal("Do on y succeeded")
	}
	c.Advance(5 * time.Second)
	called := false
	st, err := r.Do(context.Background(), "m", func(context.Context, Deployment) error { called = true; return nil })
	var ue *UnavailableError
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ue) || called {
		t.Fatalf("Do = %v (called %v), want ErrUnavailable without an attempt", err, called)
	}
	// a opened 15s ago and half-opens first.
	if ue.Model != "m" || ue.RetryAfter != cooldown-15*time.Second {
		t.Errorf("UnavailableError %+v, want model m and RetryAfter %v", ue, cooldown-15*time.Second)
	}
	if st.Attempts != 0 || st.Skipped != 2 || st.Fallbacks != 0 {
		t.Errorf("stats %+v, want 2 skips and nothing else", st)
	}
}

func TestFallbackServesWhenPrimaryOpen(t *testing.T) {
	c := newClock()
	r := mustNew(t, map[string]Model{
		"m": {Deployments: []Deployment{dep("a", 1)}, Fallbacks: []string{"f"}},
		"f": {Deployments: []Deployment{dep("b", 1)}},
	}, withClock(Options{MaxRetries: NoRetries, BreakerFailures: 1}, c))
	rec := newRecorder(map[string]error{"a": retryable(503)})
	if st, err := r.Do(context.Background(), "m", rec.attempt); err != nil || st.Model != "f" || st.Fallbacks != 1 {
		t.Fatalf("Do = %v, stats %+v; want f to serve", err, st)
	}
	st, err := r.Do(context.Background(), "m", rec.attempt)
	if err != nil || st.Attempts != 1 || st.Skipped != 1 || st.Fallbacks != 1 || st.Model != "f" || st.Deployment.ID != "b" {
		t.Errorf("Do = %v, stats %+v; want a skipped and f's b serving", err, st)
	}
}

// TestHalfOpenAdmitsOneTrial runs many concurrent calls once the cooldown
// has passed: exactly one reaches the deployment while the others are told
// it is unavailable. Run with -race.
func TestHalfOpenAdmitsOneTrial(t *testing.T) {
	c := newClock()
	r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1)}}},
		withClock(Options{MaxRetries: NoRetries, BreakerFailures: 1, BreakerCooldown: time.Minute}, c))
	if _, err := r.Do(context.Background(), "m", func(context.Context, Deployment) error { return retryable(502) }); err == nil {
		t.Fatal("Do succeeded")
	}
	c.Advance(time.Minute)

	const callers = 32
	var admitted atomic.Int32
	inTrial := make(chan struct{})
	release := make(chan struct{})
	trial := func(context.Context, Deployment) error {
		// Only the first admitted call holds on, so that a second one
		// shows up in the count below instead of hanging the test.
		if admitted.Add(1) == 1 {
			close(inTrial)
			<-release
		}
		return nil
	}
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range callers {
		wg.Go(func() {
			<-start
			_, err := r.Do(context.Background(), "m", trial)
			errs <- err
		})
	}
	close(start)
	<-inTrial
	unavailable := 0
	for range callers - 1 {
		if err := <-errs; errors.Is(err, ErrUnavailable) {
			unavailable++
		} else if admitted.Load() == 1 {
			t.Errorf("a caller got %v while the trial was in flight, want ErrUnavailable", err)
		}
	}
	if s := r.BreakerState("a"); s != "half-open" {
		t.Errorf("breaker %s during the trial, want half-open", s)
	}
	close(release)
	wg.Wait()
	if err := <-errs; err != nil {
		t.Errorf("the trial's Do = %v, want success", err)
	}
	if n := admitted.Load(); n != 1 || unavailable != callers-1 {
		t.Errorf("%d calls admitted, %d refused; want exactly 1 trial", n, unavailable)
	}
	if s := r.BreakerState("a"); s != "closed" {
		t.Errorf("breaker %s after a successful trial, want closed", s)
	}
}

func TestTrialLostToPanicIsReleased(t *testing.T) {
	c := newClock()
	r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1)}}},
		withClock(Options{MaxRetries: NoRetries, BreakerFailures: 1}, c))
	if _, err := r.Do(context.Background(), "m", func(context.Context, Deployment) error { return retryable(500) }); err == nil {
		t.Fatal("Do succeeded")
	}
	c.Advance(r.o.BreakerCooldown)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the attempt's panic did not propagate")
			}
		}()
		_, _ = r.Do(context.Background(), "m", func(context.Context, Deployment) error { panic("boom") })
	}()
	st, err := r.Do(context.Background(), "m", func(context.Context, Deployment) error { return nil })
	if err != nil || st.Attempts != 1 || r.BreakerState("a") != "closed" {
		t.Errorf("Do = %v, stats %+v, breaker %s; want a new trial that closes the breaker", err, st, r.BreakerState("a"))
	}
}

func TestBreakerGenerations(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cool := 10 * time.Second

	t.Run("a slow success from before opening does not close", func(t *testing.T) {
		b := &breaker{threshold: 1, cooldown: cool}
		slow, _, _ := b.allow(t0)
		fast, _, _ := b.allow(t0)
		b.failure(fast, t0)
		b.success(slow)
		if s := b.stateAt(t0); s != "open" {
			t.Errorf("state %s, want open", s)
		}
	})
	t.Run("a stale failure does not re-open", func(t *testing.T) {
		b := &breaker{threshold: 1, cooldown: cool}
		old, _, _ := b.allow(t0)
		cur, _, _ := b.allow(t0)
		b.failure(cur, t0)
		trial, ok, _ := b.allow(t0.Add(cool))
		if !ok || !trial.trial {
			t.Fatal("no trial after the cooldown")
		}
		b.success(trial)
		b.failure(old, t0.Add(cool))
		if s := b.stateAt(t0.Add(cool)); s != "closed" {
			t.Errorf("state %s, want closed", s)
		}
	})
	t.Run("a hung trial is replaced after a cooldown, and its late result ignored", func(t *testing.T) {
		b := &breaker{threshold: 1, cooldown: cool}
		tk, _, _ := b.allow(t0)
		b.failure(tk, t0)
		hung, ok, _ := b.allow(t0.Add(cool))
		if !ok {
			t.Fatal("no trial after the cooldown")
		}
		if _, ok, at := b.allow(t0.Add(2*cool - 1)); ok || !at.Equal(t0.Add(2*cool)) {
			t.Fatalf("second trial admitted (%v) or wrong retry time %v while the first is fresh", ok, at)
		}
		next, ok, _ := b.allow(t0.Add(2 * cool))
		if !ok {
			t.Fatal("no new trial once the first is presumed lost")
		}
		b.failure(hung, t0.Add(2*cool))
		if s := b.stateAt(t0.Add(2 * cool)); s != "half-open" {
			t.Fatalf("late result of the lost trial moved the breaker to %s", s)
		}
		b.success(next)
		if s := b.stateAt(t0.Add(2 * cool)); s != "closed" {
			t.Errorf("state %s, want closed", s)
		}
	})
}

func TestOpeningBreakerEndsRetriesWithoutSleeping(t *testing.T) {
	c := newClock()
	rec := newRecorder(map[string]error{"a": retryable(503), "b": nil})
	r := mustNew(t, map[string]Model{"m": {Deployments: []Deployment{dep("a", 1), dep("b", 1)}}},
		withClock(Options{MaxRetries: 5, BreakerFailures: 2, Rand: constRand(0)}, c))
	st, err := r.Do(context.Background(), "m", rec.attempt)
	if err != nil || st.Attempts != 3 || st.Retries != 1 || len(c.Sleeps()) != 1 || st.Deployment.ID != "b" {
		t.Errorf("Do = %v, stats %+v, sleeps %v; want a tried twice, one sleep, then b", err, st, c.Sleeps())
	}
}
