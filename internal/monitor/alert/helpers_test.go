package alert_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/monitor/alert"
	"github.com/wardenproject/warden/internal/monitor/alert/alerttest"
	"github.com/wardenproject/warden/internal/secret"
)

// t0 is the tests' clock origin.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sleeper records the waits between tries and moves the clock by them
// instead of sleeping.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
	clock *clock
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	s.clock.Add(d)
	return ctx.Err()
}

func (s *sleeper) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// delivery is one request a receiver got.
type delivery struct {
	body                 []byte
	timestamp, signature string
	alertID, contentType string
	method               string
}

// receiver is a webhook endpoint that answers with the next status of
// its script (the last one repeats) and records every request.
type receiver struct {
	*httptest.Server
	mu         sync.Mutex
	script     []int
	retryAfter string
	got        []delivery
}

func newReceiver(t *testing.T, script ...int) *receiver {
	r := &receiver{script: script}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, delivery{body, req.Header.Get(alert.HeaderTimestamp), req.Header.Get(alert.HeaderSignature),
			req.Header.Get(alert.HeaderAlertID), req.Header.Get("Content-Type"), req.Method})
		status := r.script[min(len(r.got), len(r.script))-1]
		if status == http.StatusTooManyRequests && r.retryAfter != "" {
			w.Header().Set("Retry-After", r.retryAfter)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// newSecret returns a random webhook secret and its bytes.
func newSecret(t *testing.T) (secret.Secret, []byte) {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	raw := []byte(hex.EncodeToString(b))
	return secret.New(raw), raw
}

// syncBuffer collects log output from the dispatcher's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is a dispatcher with a memory store, a moved clock, a recording
// sleeper and captured logs.
type rig struct {
	d     *alert.Dispatcher
	store *alerttest.Memory
	clock *clock
	sleep *sleeper
	logs  *syncBuffer
}

func newRig(t *testing.T, opts alert.Options) *rig {
	t.Helper()
	r := &rig{store: alerttest.NewMemory(), clock: &clock{t: t0}, logs: &syncBuffer{}}
	r.sleep = &sleeper{clock: r.clock}
	if opts.Store == nil {
		opts.Store = r.store
	}
	opts.Now = r.clock.Now
	opts.Sleep = r.sleep.Sleep
	opts.Logger = slog.New(slog.NewTextHandler(r.logs, nil))
	d, err := alert.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	t.Cleanup(func() { d.Close(context.Background()) })
	return r
}

// flush closes the dispatcher, waiting for every delivery.
func (r *rig) flush(t *testing.T) {
	t.Helper()
	if err := r.d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// sample is a valid alert.
func sample(id string) alert.Alert {
	return alert.Alert{
		ID: id, Time: t0, Rule: "request_spike", Severity: alert.Warning,
		Subject:  alert.Subject{Kind: alert.SubjectKey, ID: "key_abc"},
		Message:  "key key_abc: 412.0 requests in the current 1m0s <beyond> & above",
		Observed: alert.Observation{Metric: "requests_per_bucket", Value: 412},
		Baseline: alert.Baseline{Mean: 10.256, StdDev: 3.5, Samples: 60},
		Response: alert.ResponseAlert,
	}
}
