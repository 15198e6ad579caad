// Package alerttest is the conformance suite every alert.Store backend must
// pass (the in-memory one here, SQLite in-process, later PostgreSQL), and
// that in-memory store for the tests of packages that keep alerts.
//
// A backend's test calls RunStore with a function that opens a new, empty
// store and arranges, with t.Cleanup, for it to be closed:
//
//	func TestAlertStoreConformance(t *testing.T) {
//		alerttest.RunStore(t, func(t *testing.T) alert.Store {
//			return openTest(t, t.TempDir())
//		})
//	}
//
// Besides the interface's doc comments, the suite pins down: every field
// comes back as saved (times to the nanosecond, in UTC); an invalid alert
// is refused and nothing is stored; a canceled context fails every method
// with an error matching context.Canceled.
package alerttest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/monitor/alert"
	"github.com/wardenproject/warden/internal/store"
)

// RunStore runs the conformance suite. open must return a new, empty store
// on every call.
func RunStore(t *testing.T, open func(t *testing.T) alert.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s alert.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"DuplicateID", testDuplicateID},
		{"Invalid", testInvalid},
		{"ListOrderSinceLimit", testList},
		{"Ack", testAck},
		{"CanceledContext", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, open(t))
		})
	}
}

// t0 is the suite's clock origin, in a zone other than UTC so that a store
// that keeps the zone is caught.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))

// sample returns a valid alert with every field set.
func sample(id string, at time.Time) alert.Alert {
	return alert.Alert{
		ID: id, Time: at, Rule: "request_spike", Severity: alert.Warning,
		Subject:  alert.Subject{Kind: alert.SubjectKey, ID: "key_" + id},
		Message:  "requests per minute far above this key's baseline",
		Observed: alert.Observation{Metric: "requests_per_minute", Value: 412.5, Text: "Mozilla/5.0 (\u00e9t\u00e9)"},
		Baseline: alert.Baseline{Mean: 10.25, StdDev: 3.5, Samples: 60},
		Response: alert.ResponseSuspend,
	}
}

func testRoundTrip(t *testing.T, s alert.Store) {
	ctx := t.Context()
	want := sample("alr_a", t0)
	if err := s.SaveAlert(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAlerts(ctx, time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	want.Time = want.Time.UTC()
	if len(got) != 1 || !equal(got[0], want) {
		t.Fatalf("listed %+v\nwant [%+v]", got, want)
	}
	if got[0].Time.Location() != time.UTC {
		t.Errorf("time comes back in %v, want UTC", got[0].Time.Location())
	}
}

func testDuplicateID(t *testing.T, s alert.Store) {
	ctx := t.Context()
	if err := s.SaveAlert(ctx, sample("alr_a", t0)); err != nil {
		t.Fatal(err)
	}
	other := sample("alr_a", t0.Add(time.Hour))
	other.Message = "another"
	if err := s.SaveAlert(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("saving a taken id: %v, want store.ErrConflict", err)
	}
	got, err := s.ListAlerts(ctx, time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Message == "another" {
		t.Fatalf("after the conflict the store holds %+v", got)
	}
}

func testInvalid(t *testing.T, s alert.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		edit func(*alert.Alert)
	}{
		{"no id", func(a *alert.Alert) { a.ID = "" }},
		{"no time", func(a *alert.Alert) { a.Time = time.Time{} }},
		{"no rule", func(a *alert.Alert) { a.Rule = "" }},
		{"bad severity", func(a *alert.Alert) { a.Severity = "loud" }},
		{"no subject", func(a *alert.Alert) { a.Subject = alert.Subject{} }},
		{"bad response", func(a *alert.Alert) { a.Response = "panic" }},
		{"NaN", func(a *alert.Alert) { a.Observed.Value = math.NaN() }},
		{"infinite", func(a *alert.Alert) { a.Baseline.StdDev = math.Inf(1) }},
		{"negative samples", func(a *alert.Alert) { a.Baseline.Samples = -1 }},
	} {
		a := sample("alr_bad", t0)
		tc.edit(&a)
		if err := s.SaveAlert(ctx, a); err == nil {
			t.Errorf("%s: saved, want an error", tc.name)
		}
	}
	if _, err := s.ListAlerts(ctx, time.Time{}, 0); err == nil {
		t.Error("ListAlerts with limit 0: no error")
	}
	got, err := s.ListAlerts(ctx, time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("invalid alerts were stored: %+v", got)
	}
}

func testList(t *testing.T, s alert.Store) {
	ctx := t.Context()
	// Saved out of order; two share a time (ties break by id, descending).
	offsets := []int{3, 0, 5, 1, 5, 2}
	for i, m := range offsets {
		if err := s.SaveAlert(ctx, sample(fmt.Sprintf("alr_%d", i), t0.Add(time.Duration(m)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(as []alert.Alert) []string {
		out := []string{}
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		since time.Time
		limit int
		want  []string
	}{
		{"all", time.Time{}, 100, []string{"alr_4", "alr_2", "alr_0", "alr_5", "alr_3", "alr_1"}},
		{"limit", time.Time{}, 2, []string{"alr_4", "alr_2"}},
		{"since is inclusive", t0.Add(3 * time.Minute), 100, []string{"alr_4", "alr_2", "alr_0"}},
		{"since in another zone", t0.Add(3 * time.Minute).In(time.FixedZone("X", -7*3600)), 100, []string{"alr_4", "alr_2", "alr_0"}},
		{"since after all", t0.Add(time.Hour), 100, []string{}},
		{"since long before", t0.AddDate(-300, 0, 0), 1, []string{"alr_4"}},
	} {
		got, err := s.ListAlerts(ctx, tc.since, tc.limit)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("%s: listed %v, want %v", tc.name, ids(got), tc.want)
		}
	}
}

func testAck(t *testing.T, s alert.Store) {
	ctx := t.Context()
	for _, id := range []string{"alr_a", "alr_b"} {
		if err := s.SaveAlert(ctx, sample(id, t0)); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.Add(time.Hour)
	if err := s.AckAlert(ctx, "alr_a", at); err != nil {
		t.Fatal(err)
	}
	// A second ack keeps the first time.
	if err := s.AckAlert(ctx, "alr_a", at.Add(time.Hour)); err != nil {
		t.Fatalf("second ack: %v", err)
	}
	if err := s.AckAlert(ctx, "alr_missing", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ack of an unknown id: %v, want store.ErrNotFound", err)
	}
	got, err := s.ListAlerts(ctx, time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	acked := map[string]time.Time{}
	for _, a := range got {
		acked[a.ID] = a.AckedAt
	}
	if !acked["alr_a"].Equal(at) || !acked["alr_b"].IsZero() || len(acked) != 2 {
		t.Fatalf("acked times %v; want alr_a at %v and alr_b not acked", acked, at)
	}
}

func testCanceled(t *testing.T, s alert.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.SaveAlert(ctx, sample("alr_a", t0)); !errors.Is(err, context.Canceled) {
		t.Errorf("SaveAlert: %v, want context.Canceled", err)
	}
	if _, err := s.ListAlerts(ctx, time.Time{}, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("ListAlerts: %v, want context.Canceled", err)
	}
	if err := s.AckAlert(ctx, "alr_a", t0); !errors.Is(err, context.Canceled) {
		t.Errorf("AckAlert: %v, want context.Canceled", err)
	}
}

// equal compares alerts field by field, times with Equal.
func equal(a, b alert.Alert) bool {
	return a.Time.Equal(b.Time) && a.AckedAt.Equal(b.AckedAt) &&
		a.ID == b.ID && a.Rule == b.Rule && a.Severity == b.Severity && a.Subject == b.Subject &&
		a.Message == b.Message && a.Observed == b.Observed && a.Baseline == b.Baseline && a.Response == b.Response
}

// Memory is an in-memory alert.Store. It passes RunStore.
type Memory struct {
	mu     sync.Mutex
	alerts []alert.Alert
}

var _ alert.Store = (*Memory)(nil)

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{} }

// SaveAlert implements alert.Store.
func (m *Memory) SaveAlert(ctx context.Context, a alert.Alert) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.Check(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.alerts {
		if b.ID == a.ID {
			return fmt.Errorf("save alert %s: %w", a.ID, store.ErrConflict)
		}
	}
	a.Time = a.Time.UTC()
	m.alerts = append(m.alerts, a)
	return nil
}

// ListAlerts implements alert.Store.
func (m *Memory) ListAlerts(ctx context.Context, since time.Time, limit int) ([]alert.Alert, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, errors.New("list alerts: the limit must be positive")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []alert.Alert{}
	for _, a := range m.alerts {
		if since.IsZero() || !a.Time.Before(since) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b alert.Alert) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		switch {
		case a.ID > b.ID:
			return -1
		case a.ID < b.ID:
			return 1
		}
		return 0
	})
	return out[:min(limit, len(out))], nil
}

// AckAlert implements alert.Store.
func (m *Memory) AckAlert(ctx context.Context, id string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if at.IsZero() {
		return fmt.Errorf("ack alert %s: no time given", id)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.alerts {
		if m.alerts[i].ID == id {
			if m.alerts[i].AckedAt.IsZero() {
				m.alerts[i].AckedAt = at.UTC()
			}
			return nil
		}
	}
	return fmt.Errorf("ack alert %s: %w", id, store.ErrNotFound)
}
