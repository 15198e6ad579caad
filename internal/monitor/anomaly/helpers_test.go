package anomaly

import (
	"context"
	"crypto/rand"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/monitor/alert"
)

// t0 is the tests' clock origin: a Monday, 00:00 UTC.
var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// sink records alerts.
type sink struct {
	mu     sync.Mutex
	alerts []alert.Alert
}

func (s *sink) Send(a alert.Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = append(s.alerts, a)
}

// rule returns the alerts of one rule, oldest first.
func (s *sink) rule(r Rule) []alert.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []alert.Alert
	for _, a := range s.alerts {
		if a.Rule == string(r) {
			out = append(out, a)
		}
	}
	return out
}

// rules lists the rules of all alerts so far, for failure messages and
// for checking that nothing else fired.
func (s *sink) rules() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.alerts {
		out = append(out, a.Rule+"@"+a.Subject.String())
	}
	return out
}

// newTest returns a detector with cfg (Sink filled in) and its sink.
func newTest(t *testing.T, cfg Config) (*Detector, *sink) {
	t.Helper()
	s := &sink{}
	cfg.Sink = s
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return t0 }
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d, s
}

// checkAlert checks that a is valid and about subj.
func checkAlert(t *testing.T, a alert.Alert, rule Rule, kind, id string) {
	t.Helper()
	if err := a.Check(); err != nil {
		t.Errorf("%s alert is not valid: %v", rule, err)
	}
	if a.Rule != string(rule) || a.Subject.Kind != kind || a.Subject.ID != id {
		t.Errorf("alert %s about %s, want %s about %s:%s", a.Rule, a.Subject, rule, kind, id)
	}
}

var addrA = netip.MustParseAddr("198.51.100.7")

// call is a normal successful call of key_a in team ml.
func call(at time.Time) Event {
	return Event{Time: at, KeyID: "key_a", Team: "ml", ClientIP: addrA, UserAgent: "openai-python/1.54.3",
		Status: 200, Tokens: 100, Cost: 1000}
}

// warmUp feeds key_a a steady history: minutes active buckets of 8 to 12
// calls each, starting at t0, and returns the time after the last.
func warmUp(d *Detector, minutes int) time.Time {
	at := t0
	for i := range minutes {
		at = t0.Add(time.Duration(i) * time.Minute)
		for j := range 8 + i%5 {
			d.Observe(call(at.Add(time.Duration(j) * time.Second)))
		}
	}
	return at.Add(time.Minute)
}

// fakeKey makes a key-shaped string unique to this run, so that finding
// more than its first 8 characters anywhere means it leaked.
func fakeKey(t *testing.T) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 40)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "wdn_" + string(b)
}

// suspender records Suspend calls.
type suspender struct {
	mu    sync.Mutex
	calls []string // keyID + " " + reason
	err   error
}

func (s *suspender) Suspend(_ context.Context, keyID, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, keyID+" "+reason)
	return s.err
}

func (s *suspender) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}
