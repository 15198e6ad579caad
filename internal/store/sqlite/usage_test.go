package sqlite

import (
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/meter/metertest"
)

func TestUsageStoreConformance(t *testing.T) {
	metertest.RunUsageStore(t, func(t *testing.T) meter.UsageStore {
		return openTest(t, t.TempDir())
	})
}

// TestUsageRecordRoundTrip reads back every column a record writes: the
// summary does not show them all.
func TestUsageRecordRoundTrip(t *testing.T) {
	db := openTest(t, t.TempDir())
	want := meter.Record{
		Time: time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC), RequestID: "req-1", KeyID: "key_k1",
		User: "alice", Team: "ml", Model: "gpt-4o", Provider: "openai", Deployment: "openai-eu",
		Route: "/v1/chat/completions", Status: 200, InputTokens: 1, OutputTokens: 2, CachedInputTokens: 3,
		CacheWriteInputTokens: 4, Cost: 5, Stream: true, Estimated: true,
	}
	if err := db.RecordUsage(t.Context(), []meter.Record{want}); err != nil {
		t.Fatal(err)
	}
	var (
		got meter.Record
		at  int64
		c   int64
	)
	if err := db.reader.QueryRowContext(t.Context(), `
		SELECT request_id, at, key_id, user_name, team, model, provider, deployment, route, status,
		       input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens, cost, stream, estimated
		FROM usage_records`).Scan(&got.RequestID, &at, &got.KeyID, &got.User, &got.Team, &got.Model, &got.Provider,
		&got.Deployment, &got.Route, &got.Status, &got.InputTokens, &got.OutputTokens, &got.CachedInputTokens,
		&got.CacheWriteInputTokens, &c, &got.Stream, &got.Estimated); err != nil {
		t.Fatal(err)
	}
	got.Time, got.Cost = decodeTime(at), meter.Amount(c)
	if got != want {
		t.Errorf("stored\n  %+v\nwant\n  %+v", got, want)
	}
}
