package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/wardenproject/warden/internal/monitor/alert"
	"github.com/wardenproject/warden/internal/store"
)

var _ alert.Store = (*DB)(nil)

// alertColumns are the columns scanAlert reads, in its order.
const alertColumns = `id, at, rule, severity, subject_kind, subject, message, observed_metric, observed_value,
	observed_text, baseline_mean, baseline_stddev, baseline_samples, response, acked_at`

// SaveAlert implements alert.Store.
func (db *DB) SaveAlert(ctx context.Context, a alert.Alert) error {
	what := fmt.Sprintf("save alert %s", a.ID)
	if err := a.Check(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	at, err := encodeTime("time of alert", a.Time)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var acked sql.NullInt64
	if !a.AckedAt.IsZero() {
		if acked.Int64, err = encodeTime("acknowledgement time", a.AckedAt); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		acked.Valid = true
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			INSERT INTO alerts (`+alertColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`,
			a.ID, at, a.Rule, string(a.Severity), a.Subject.Kind, a.Subject.ID, a.Message,
			a.Observed.Metric, a.Observed.Value, a.Observed.Text,
			a.Baseline.Mean, a.Baseline.StdDev, a.Baseline.Samples, a.Response, acked)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("the id is taken: %w", store.ErrConflict)
		}
		return nil
	})
}

// ListAlerts implements alert.Store.
func (db *DB) ListAlerts(ctx context.Context, since time.Time, limit int) ([]alert.Alert, error) {
	const what = "list alerts"
	if limit <= 0 {
		return nil, fmt.Errorf("%s: the limit must be positive", what)
	}
	rows, err := db.reader.QueryContext(ctx, `
		SELECT `+alertColumns+` FROM alerts WHERE at >= ?
		ORDER BY at DESC, id DESC LIMIT ?`, clampTime(since, math.MinInt64), limit)
	if err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	defer rows.Close()
	out := []alert.Alert{}
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, db.wrap(ctx, what, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	return out, nil
}

func scanAlert(rows *sql.Rows) (alert.Alert, error) {
	var (
		a        alert.Alert
		at       int64
		severity string
		acked    sql.NullInt64
	)
	if err := rows.Scan(&a.ID, &at, &a.Rule, &severity, &a.Subject.Kind, &a.Subject.ID, &a.Message,
		&a.Observed.Metric, &a.Observed.Value, &a.Observed.Text,
		&a.Baseline.Mean, &a.Baseline.StdDev, &a.Baseline.Samples, &a.Response, &acked); err != nil {
		return alert.Alert{}, err
	}
	a.Time, a.Severity, a.AckedAt = decodeTime(at), alert.Severity(severity), decodeNullTime(acked)
	return a, nil
}

// AckAlert implements alert.Store.
func (db *DB) AckAlert(ctx context.Context, id string, at time.Time) error {
	what := fmt.Sprintf("acknowledge alert %s", id)
	if at.IsZero() {
		return fmt.Errorf("%s: no time given", what)
	}
	ts, err := encodeTime("acknowledgement time", at)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		// The first acknowledgement stands; a later one changes nothing
		// but must still find the alert.
		res, err := tx.ExecContext(ctx, `UPDATE alerts SET acked_at = COALESCE(acked_at, ?) WHERE id = ?`, ts, id)
		if err != nil {
			return err
		}
		if err := mustAffect(res); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no such alert: %w", store.ErrNotFound)
		} else if err != nil {
			return err
		}
		return nil
	})
}
