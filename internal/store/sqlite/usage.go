package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wardenproject/warden/internal/meter"
)

var _ meter.UsageStore = (*DB)(nil)

// RecordUsage implements meter.UsageStore.
func (db *DB) RecordUsage(ctx context.Context, records []meter.Record) error {
	what := fmt.Sprintf("record usage of %d calls", len(records))
	if len(records) == 0 {
		return nil
	}
	ats := make([]int64, len(records))
	for i, r := range records {
		if err := r.Check(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		var err error
		if ats[i], err = encodeTime("time of request "+r.RequestID, r.Time); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `
			INSERT INTO usage_records (request_id, at, key_id, user_name, team, model, provider, deployment, route, status,
			                           input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens,
			                           cost, stream, estimated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (request_id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, r := range records {
			if _, err := stmt.ExecContext(ctx, r.RequestID, ats[i], r.KeyID, r.User, r.Team, r.Model, r.Provider,
				r.Deployment, r.Route, r.Status, r.InputTokens, r.OutputTokens, r.CachedInputTokens,
				r.CacheWriteInputTokens, int64(r.Cost), r.Stream, r.Estimated); err != nil {
				return fmt.Errorf("request %s: %w", r.RequestID, err)
			}
		}
		return nil
	})
}

// usageGroups maps each grouping to its SQL expression. A day is the UTC
// date of at, floored for times before 1970 too.
var usageGroups = map[meter.GroupBy]string{
	meter.ByKey:   "key_id",
	meter.ByTeam:  "team",
	meter.ByUser:  "user_name",
	meter.ByModel: "model",
	meter.ByDay:   "date(at / 1000000000 - (at % 1000000000 < 0), 'unixepoch')",
}

// UsageSummary implements meter.UsageStore.
func (db *DB) UsageSummary(ctx context.Context, q meter.UsageQuery) ([]meter.UsageRow, error) {
	const what = "summarize usage"
	if err := q.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	group, ok := usageGroups[q.By]
	if !ok {
		return nil, fmt.Errorf("%s: no column for grouping %q", what, q.By)
	}
	var (
		where strings.Builder
		args  = []any{clampTime(q.Since, math.MinInt64), clampTime(q.Until, math.MaxInt64)}
	)
	where.WriteString("at >= ? AND at < ?")
	for _, f := range []struct{ column, value string }{
		{"key_id", q.KeyID}, {"team", q.Team}, {"user_name", q.User},
	} {
		if f.value != "" {
			where.WriteString(" AND " + f.column + " = ?")
			args = append(args, f.value)
		}
	}
	rows, err := db.reader.QueryContext(ctx, `
		SELECT `+group+` AS grp, count(*), sum(input_tokens), sum(output_tokens), sum(cost)
		FROM usage_records WHERE `+where.String()+`
		GROUP BY grp ORDER BY grp`, args...)
	if err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	defer rows.Close()
	out := []meter.UsageRow{}
	for rows.Next() {
		var (
			r    meter.UsageRow
			cost int64
		)
		if err := rows.Scan(&r.Group, &r.Requests, &r.InputTokens, &r.OutputTokens, &cost); err != nil {
			return nil, db.wrap(ctx, what, err)
		}
		r.Cost = meter.Amount(cost)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	return out, nil
}

// clampTime encodes a query bound: the zero time is open, given as open,
// and times beyond what encodeTime can store clamp to the nearest end.
func clampTime(t time.Time, open int64) int64 {
	switch {
	case t.IsZero():
		return open
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}
