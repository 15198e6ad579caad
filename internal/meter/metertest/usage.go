package metertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/meter"
)

// RunUsageStore runs the usage store conformance suite. open must return a
// new, empty store on every call.
func RunUsageStore(t *testing.T, open func(t *testing.T) meter.UsageStore) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s meter.UsageStore)
	}{
		{"Summaries", testSummaries},
		{"RequestIDOnce", testRequestIDOnce},
		{"AllOrNothing", testUsageAllOrNothing},
		{"InvalidQuery", testInvalidQuery},
		{"Concurrent", testUsageConcurrent},
		{"CanceledContext", testUsageCanceledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, open(t))
		})
	}
}

// est is five hours west of UTC: some fixture times fall on another UTC
// day than their local one.
var est = time.FixedZone("EST", -5*3600)

// fixture returns five records over three UTC days.
func fixture() []meter.Record {
	return []meter.Record{
		{
			Time: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), RequestID: "req-1",
			KeyID: "k1", User: "alice", Team: "ml", Model: "gpt-4o", Provider: "openai", Deployment: "openai-eu",
			Route: "/v1/chat/completions", Status: 200, InputTokens: 100, OutputTokens: 10, CachedInputTokens: 50,
			Cost: 1 * usd,
		},
		{
			// 23:30 UTC on the 1st.
			Time: time.Date(2026, 3, 1, 18, 30, 0, 0, est), RequestID: "req-2",
			KeyID: "k1", User: "alice", Team: "ml", Model: "claude", Provider: "anthropic", Route: "/v1/messages",
			Status: 200, InputTokens: 200, OutputTokens: 20, CacheWriteInputTokens: 7, Cost: 2 * usd, Stream: true,
		},
		{
			// 00:30 UTC on the 2nd, still the 1st in EST.
			Time: time.Date(2026, 3, 1, 19, 30, 0, 0, est), RequestID: "req-3",
			KeyID: "k2", User: "bob", Team: "ml", Model: "gpt-4o", Provider: "openai",
			Status: 200, InputTokens: 300, OutputTokens: 30, Cost: meter.NanoUSD,
		},
		{
			Time: time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC), RequestID: "req-4",
			KeyID: "k3", User: "carol", Model: "gpt-4o", Provider: "openai",
			Status: 502, InputTokens: 400, OutputTokens: 40, Cost: 4 * usd, Estimated: true,
		},
		{
			Time: time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC), RequestID: "req-5",
			KeyID: "k2", User: "bob", Team: "search", Model: "claude", Provider: "anthropic",
			Status: 200, InputTokens: 500, OutputTokens: 50, Cost: 5 * usd,
		},
	}
}

func row(group string, requests, in, out int64, cost meter.Amount) meter.UsageRow {
	return meter.UsageRow{Group: group, Requests: requests, InputTokens: in, OutputTokens: out, Cost: cost}
}

func record(t *testing.T, s meter.UsageStore, recs ...meter.Record) {
	t.Helper()
	if err := s.RecordUsage(t.Context(), recs); err != nil {
		t.Fatalf("RecordUsage: %v", err)
	}
}

func checkSummary(t *testing.T, s meter.UsageStore, q meter.UsageQuery, want ...meter.UsageRow) {
	t.Helper()
	got, err := s.UsageSummary(t.Context(), q)
	if err != nil {
		t.Fatalf("UsageSummary(%+v): %v", q, err)
	}
	if got == nil {
		t.Errorf("UsageSummary(%+v) returned nil, want a slice", q)
	}
	if want == nil {
		want = []meter.UsageRow{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("UsageSummary(%+v) =\n  %+v\nwant\n  %+v", q, got, want)
	}
}

func testSummaries(t *testing.T, s meter.UsageStore) {
	checkSummary(t, s, meter.UsageQuery{By: meter.ByKey})
	f := fixture()
	record(t, s, f[:2]...)
	record(t, s, f[2:]...)
	if err := s.RecordUsage(t.Context(), nil); err != nil {
		t.Errorf("RecordUsage of no records: %v", err)
	}

	nano := meter.NanoUSD
	tests := []struct {
		name string
		q    meter.UsageQuery
		want []meter.UsageRow
	}{
		{"by key", meter.UsageQuery{By: meter.ByKey}, []meter.UsageRow{
			row("k1", 2, 300, 30, 3*usd), row("k2", 2, 800, 80, 5*usd+nano), row("k3", 1, 400, 40, 4*usd)}},
		{"by team, with a call that has none", meter.UsageQuery{By: meter.ByTeam}, []meter.UsageRow{
			row("", 1, 400, 40, 4*usd), row("ml", 3, 600, 60, 3*usd+nano), row("search", 1, 500, 50, 5*usd)}},
		{"by user", meter.UsageQuery{By: meter.ByUser}, []meter.UsageRow{
			row("alice", 2, 300, 30, 3*usd), row("bob", 2, 800, 80, 5*usd+nano), row("carol", 1, 400, 40, 4*usd)}},
		{"by model", meter.UsageQuery{By: meter.ByModel}, []meter.UsageRow{
			row("claude", 2, 700, 70, 7*usd), row("gpt-4o", 3, 800, 80, 5*usd+nano)}},
		{"by UTC day", meter.UsageQuery{By: meter.ByDay}, []meter.UsageRow{
			row("2026-03-01", 2, 300, 30, 3*usd), row("2026-03-02", 1, 300, 30, nano), row("2026-03-03", 2, 900, 90, 9*usd)}},
		{"one key by model", meter.UsageQuery{By: meter.ByModel, KeyID: "k2"}, []meter.UsageRow{
			row("claude", 1, 500, 50, 5*usd), row("gpt-4o", 1, 300, 30, nano)}},
		{"one team by user", meter.UsageQuery{By: meter.ByUser, Team: "ml"}, []meter.UsageRow{
			row("alice", 2, 300, 30, 3*usd), row("bob", 1, 300, 30, nano)}},
		{"one user by day", meter.UsageQuery{By: meter.ByDay, User: "bob"}, []meter.UsageRow{
			row("2026-03-02", 1, 300, 30, nano), row("2026-03-03", 1, 500, 50, 5*usd)}},
		{"all filters", meter.UsageQuery{By: meter.ByKey, KeyID: "k1", Team: "ml", User: "alice"}, []meter.UsageRow{
			row("k1", 2, 300, 30, 3*usd)}},
		{"filters that exclude each other", meter.UsageQuery{By: meter.ByKey, KeyID: "k1", User: "bob"}, nil},
		{"unknown key", meter.UsageQuery{By: meter.ByKey, KeyID: "k9"}, nil},
		{"since is inclusive, until exclusive", meter.UsageQuery{By: meter.ByKey, Since: f[1].Time, Until: f[3].Time}, []meter.UsageRow{
			row("k1", 1, 200, 20, 2*usd), row("k2", 1, 300, 30, nano)}},
		{"since only", meter.UsageQuery{By: meter.ByTeam, Since: f[3].Time}, []meter.UsageRow{
			row("", 1, 400, 40, 4*usd), row("search", 1, 500, 50, 5*usd)}},
		{"until only", meter.UsageQuery{By: meter.ByDay, Until: f[1].Time.Add(time.Nanosecond)}, []meter.UsageRow{
			row("2026-03-01", 2, 300, 30, 3*usd)}},
		{"until the first record", meter.UsageQuery{By: meter.ByDay, Until: f[0].Time}, nil},
		{"empty range", meter.UsageQuery{By: meter.ByDay, Since: f[0].Time, Until: f[0].Time}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkSummary(t, s, tc.q, tc.want...)
		})
	}
}

func testRequestIDOnce(t *testing.T, s meter.UsageStore) {
	f := fixture()
	record(t, s, f...)
	// A retried batch, and another record under a stored request id.
	again := fixture()[0]
	again.KeyID, again.Cost = "k9", 100*usd
	record(t, s, append(f[3:], again)...)
	checkSummary(t, s, meter.UsageQuery{By: meter.ByKey},
		row("k1", 2, 300, 30, 3*usd), row("k2", 2, 800, 80, 5*usd+meter.NanoUSD), row("k3", 1, 400, 40, 4*usd))
}

func testUsageAllOrNothing(t *testing.T, s meter.UsageStore) {
	f := fixture()
	record(t, s, f[0])
	bad := []meter.Record{
		{RequestID: "r-no-time", KeyID: "kx"},
		{Time: f[0].Time, KeyID: "kx"}, // no request id
		{Time: f[0].Time, RequestID: "r-neg", KeyID: "kx", InputTokens: -1},
		{Time: f[0].Time, RequestID: "r-cost", KeyID: "kx", Cost: -1},
		{Time: f[0].Time, RequestID: "r-status", KeyID: "kx", Status: 1000},
	}
	for _, b := range bad {
		err := s.RecordUsage(t.Context(), []meter.Record{f[1], b, f[2]})
		if err == nil {
			t.Errorf("RecordUsage with %+v: no error", b)
		}
	}
	checkSummary(t, s, meter.UsageQuery{By: meter.ByKey}, row("k1", 1, 100, 10, usd))
}

func testInvalidQuery(t *testing.T, s meter.UsageStore) {
	record(t, s, fixture()...)
	for _, q := range []meter.UsageQuery{
		{},
		{By: "region"},
		{By: meter.ByKey, Since: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if rows, err := s.UsageSummary(t.Context(), q); err == nil {
			t.Errorf("UsageSummary(%+v) = %v, want an error", q, rows)
		}
	}
}

func testUsageConcurrent(t *testing.T, s meter.UsageStore) {
	const writers, each = 8, 25
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			recs := make([]meter.Record, each)
			for i := range recs {
				recs[i] = meter.Record{
					Time: base.Add(time.Duration(i) * time.Minute), RequestID: fmt.Sprintf("w%d-%d", w, i),
					KeyID: fmt.Sprintf("k%d", w%2), Status: 200, InputTokens: 1, OutputTokens: 2, Cost: usd,
				}
			}
			// Half one batch each, half one record at a time.
			if err := s.RecordUsage(context.Background(), recs[:each/2]); err != nil {
				errs <- err
				return
			}
			for _, r := range recs[each/2:] {
				if err := s.RecordUsage(context.Background(), []meter.Record{r}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	const half = writers / 2 * each
	checkSummary(t, s, meter.UsageQuery{By: meter.ByKey},
		row("k0", half, half, 2*half, half*usd), row("k1", half, half, 2*half, half*usd))
}

func testUsageCanceledContext(t *testing.T, s meter.UsageStore) {
	f := fixture()
	record(t, s, f[0])
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.RecordUsage(ctx, f[1:]); !errors.Is(err, context.Canceled) {
		t.Errorf("RecordUsage with a canceled context: %v, want context.Canceled", err)
	}
	if _, err := s.UsageSummary(ctx, meter.UsageQuery{By: meter.ByKey}); !errors.Is(err, context.Canceled) {
		t.Errorf("UsageSummary with a canceled context: %v, want context.Canceled", err)
	}
	checkSummary(t, s, meter.UsageQuery{By: meter.ByKey}, row("k1", 1, 100, 10, usd))
}
