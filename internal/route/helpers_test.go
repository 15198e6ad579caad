package route

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injected clock whose Sleep records the wait and moves
// time forward instead of waiting.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// constRand always returns f.
func constRand(f float64) func() float64 { return func() float64 { return f } }

// seededRand is a deterministic, concurrency-safe random source.
func seededRand(seed uint64) func() float64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Float64()
	}
}

// withClock fills the clock fields of o from c.
func withClock(o Options, c *fakeClock) Options {
	o.Now, o.Sleep = c.Now, c.Sleep
	return o
}

func mustNew(t testing.TB, models map[string]Model, o Options) *Router {
	t.Helper()
	r, err := New(models, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// dep is a deployment with an explicit id, to keep tables short.
func dep(id string, weight int) Deployment {
	return Deployment{ID: id, Provider: "p", Model: "up-" + id, Weight: weight}
}

func retryable(status int) error {
	return &Retryable{Status: status, Err: fmt.Errorf("upstream answered %d", status)}
}

// recorder is an Attempt whose result per deployment id is set by the
// test, and which records the ids it was called with.
type recorder struct {
	mu     sync.Mutex
	calls  []string
	result map[string]error
}

func newRecorder(result map[string]error) *recorder {
	return &recorder{result: result}
}

func (rc *recorder) attempt(_ context.Context, d Deployment) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls = append(rc.calls, d.ID)
	return rc.result[d.ID]
}

func (rc *recorder) set(id string, err error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.result[id] = err
}

func (rc *recorder) Calls() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.calls)
}
