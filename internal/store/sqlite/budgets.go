package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/wardenproject/warden/internal/meter"
)

var _ meter.Ledger = (*DB)(nil)

// errRefused rolls back a Reserve whose hold does not fit.
var errRefused = errors.New("a hold does not fit its budget")

// Reserve implements meter.Ledger. The check and the insert are one
// IMMEDIATE transaction, which holds SQLite's write lock from BEGIN: no
// other writer, in this process or another sharing the file, can reserve
// or settle in between.
func (db *DB) Reserve(ctx context.Context, holds []meter.Hold, now time.Time, ttl time.Duration) (string, int, error) {
	const what = "reserve budget"
	if err := meter.CheckReserve(holds, now, ttl); err != nil {
		return "", -1, fmt.Errorf("%s: %w", what, err)
	}
	ts, err := encodeTime("time", now)
	if err != nil {
		return "", -1, fmt.Errorf("%s: %w", what, err)
	}
	expires, err := encodeTime("reservation expiry", now.Add(ttl))
	if err != nil {
		return "", -1, fmt.Errorf("%s: %w", what, err)
	}
	starts := make([]int64, len(holds))
	for i, h := range holds {
		if starts[i], err = encodePeriodStart(h.Bucket); err != nil {
			return "", -1, fmt.Errorf("%s: hold %d: %w", what, i, err)
		}
	}
	// Holds that expired longer ago than the settle window are forgotten.
	forget := int64(math.MinInt64)
	if window := meter.SettleWindow.Nanoseconds(); ts >= math.MinInt64+window {
		forget = ts - window
	}

	id := meter.NewReservationID()
	refused := -1
	err = db.write(ctx, what, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM budget_holds WHERE expires_at < ?`, forget); err != nil {
			return err
		}
		for i, h := range holds {
			a := h.Account
			var used int64
			// Holds of this reservation inserted above are counted too;
			// CheckReserve refused a bucket named twice anyway.
			if err := tx.QueryRowContext(ctx, `
				SELECT coalesce((SELECT spent FROM budget_spend
				                 WHERE account_kind = ?1 AND account_id = ?2 AND period = ?3 AND period_start = ?4), 0)
				     + coalesce((SELECT sum(amount) FROM budget_holds
				                 WHERE account_kind = ?1 AND account_id = ?2 AND period = ?3 AND period_start = ?4
				                   AND expires_at > ?5), 0)`,
				a.Kind, a.ID, string(h.Period), starts[i], ts).Scan(&used); err != nil {
				return err
			}
			if meter.Amount(used) > h.Limit-h.Amount {
				refused = i
				return errRefused
			}
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO budget_holds (reservation_id, position, account_kind, account_id, period, period_start, amount, expires_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				id, i, a.Kind, a.ID, string(h.Period), starts[i], int64(h.Amount), expires); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errRefused):
		return "", refused, nil
	case err != nil:
		return "", -1, err
	}
	return id, -1, nil
}

// Settle implements meter.Ledger.
func (db *DB) Settle(ctx context.Context, id string, actual meter.Amount) ([]meter.Amount, error) {
	what := fmt.Sprintf("settle budget reservation %s", id)
	if err := meter.CheckSettle(id, actual); err != nil {
		return nil, fmt.Errorf("settle budget reservation: %w", err)
	}
	type held struct {
		position         int
		kind, id, period string
		start            int64
	}
	var spent []meter.Amount
	err := db.write(ctx, what, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			DELETE FROM budget_holds WHERE reservation_id = ?
			RETURNING position, account_kind, account_id, period, period_start`, id)
		if err != nil {
			return err
		}
		var hs []held
		for rows.Next() {
			var h held
			if err := rows.Scan(&h.position, &h.kind, &h.id, &h.period, &h.start); err != nil {
				rows.Close()
				return err
			}
			hs = append(hs, h)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(hs) == 0 {
			return nil // settled, released or forgotten already
		}
		// RETURNING gives rows in no promised order.
		slices.SortFunc(hs, func(a, b held) int { return a.position - b.position })
		spent = make([]meter.Amount, len(hs))
		for i, h := range hs {
			var total int64
			if err := tx.QueryRowContext(ctx, `
				INSERT INTO budget_spend (account_kind, account_id, period, period_start, spent)
				VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (account_kind, account_id, period, period_start) DO UPDATE SET spent = spent + excluded.spent
				RETURNING spent`,
				h.kind, h.id, h.period, h.start, int64(actual)).Scan(&total); err != nil {
				return err
			}
			spent[i] = meter.Amount(total)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return spent, nil
}

// Release implements meter.Ledger.
func (db *DB) Release(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("release budget reservation: no reservation id given")
	}
	return db.write(ctx, fmt.Sprintf("release budget reservation %s", id), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM budget_holds WHERE reservation_id = ?`, id)
		return err
	})
}

// Spent implements meter.Ledger.
func (db *DB) Spent(ctx context.Context, b meter.Bucket, now time.Time) (spent, reserved meter.Amount, err error) {
	const what = "read budget spend"
	if err := b.Check(); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	start, err := encodePeriodStart(b)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	ts, err := encodeTime("time", now)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	var s, r int64
	if err := db.reader.QueryRowContext(ctx, `
		SELECT coalesce((SELECT spent FROM budget_spend
		                 WHERE account_kind = ?1 AND account_id = ?2 AND period = ?3 AND period_start = ?4), 0),
		       coalesce((SELECT sum(amount) FROM budget_holds
		                 WHERE account_kind = ?1 AND account_id = ?2 AND period = ?3 AND period_start = ?4
		                   AND expires_at > ?5), 0)`,
		b.Account.Kind, b.Account.ID, string(b.Period), start, ts).Scan(&s, &r); err != nil {
		return 0, 0, db.wrap(ctx, what, err)
	}
	return meter.Amount(s), meter.Amount(r), nil
}

// encodePeriodStart stores a period's start as encodeTime does, and a
// total budget's zero start as 0: the period column tells the two apart.
func encodePeriodStart(b meter.Bucket) (int64, error) {
	if b.Period == meter.Total {
		return 0, nil
	}
	return encodeTime("period start", b.Start)
}
