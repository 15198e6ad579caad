package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/store"
)

// teamColumns are the columns scanTeam reads, in its order.
const teamColumns = `name, models, limit_rps, limit_rpm, limit_tpm, max_parallel, budget_limit, budget_period, created_at, updated_at`

// CreateTeam implements keys.TeamStore.
func (db *DB) CreateTeam(ctx context.Context, t keys.Team) error {
	what := fmt.Sprintf("create team %s", t.Name)
	if t.Name == "" {
		return errors.New("create team: the team has no name")
	}
	created, err := encodeTime("created_at", t.CreatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	updated, err := encodeTime("updated_at", t.UpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	models, err := encodeList("models", t.Models)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		if taken, err := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM teams WHERE name = ?)`, t.Name); err != nil {
			return err
		} else if taken {
			return fmt.Errorf("the name is taken: %w", store.ErrConflict)
		}
		args := append(append([]any{t.Name, models}, encodeLimits(t.Limits, t.Budget).args()...), created, updated)
		if _, err := tx.ExecContext(ctx, `INSERT INTO teams (`+teamColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
			return err
		}
		return bumpKeysVersion(ctx, tx)
	})
}

// TeamByName implements keys.TeamStore.
func (db *DB) TeamByName(ctx context.Context, name string) (keys.Team, error) {
	return queryOne(ctx, db, fmt.Sprintf("read team %s", name), scanTeam, `SELECT `+teamColumns+` FROM teams WHERE name = ?`, name)
}

// ListTeams implements keys.TeamStore.
func (db *DB) ListTeams(ctx context.Context) ([]keys.Team, error) {
	return queryAll(ctx, db, "list teams", scanTeam, `SELECT `+teamColumns+` FROM teams ORDER BY name`)
}

// UpdateTeam implements keys.TeamStore.
func (db *DB) UpdateTeam(ctx context.Context, t keys.Team, ifUpdatedAt time.Time) error {
	what := fmt.Sprintf("update team %s", t.Name)
	updated, err := encodeTime("updated_at", t.UpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	expected, err := encodeTime("previous updated_at", ifUpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	models, err := encodeList("models", t.Models)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		if err := checkUnchanged(ctx, tx, `SELECT updated_at FROM teams WHERE name = ?`, t.Name, expected, "team"); err != nil {
			return err
		}
		args := append(append([]any{models}, encodeLimits(t.Limits, t.Budget).args()...), updated, t.Name)
		if _, err := tx.ExecContext(ctx, `
			UPDATE teams SET models = ?, limit_rps = ?, limit_rpm = ?, limit_tpm = ?, max_parallel = ?,
				budget_limit = ?, budget_period = ?, updated_at = ?
			WHERE name = ?`, args...); err != nil {
			return err
		}
		return bumpKeysVersion(ctx, tx)
	})
}

// DeleteTeam implements keys.TeamStore.
func (db *DB) DeleteTeam(ctx context.Context, name string) error {
	what := fmt.Sprintf("delete team %s", name)
	return db.write(ctx, what, func(tx *sql.Tx) error {
		if found, err := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM teams WHERE name = ?)`, name); err != nil {
			return err
		} else if !found {
			return store.ErrNotFound
		}
		var nkeys, nusers int
		if err := tx.QueryRowContext(ctx, `
			SELECT (SELECT COUNT(*) FROM virtual_keys WHERE team = ?1 AND state != 'revoked'),
			       (SELECT COUNT(*) FROM users WHERE team = ?1)`, name).Scan(&nkeys, &nusers); err != nil {
			return err
		}
		if nkeys > 0 || nusers > 0 {
			return fmt.Errorf("%d key(s) and %d user(s) are in the team: %w", nkeys, nusers, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM teams WHERE name = ?`, name); err != nil {
			return err
		}
		return bumpKeysVersion(ctx, tx)
	})
}

// scanTeam reads teamColumns from one row.
func scanTeam(r rowScanner) (keys.Team, error) {
	var (
		t                keys.Team
		models           string
		lc               limitCols
		created, updated int64
	)
	dest := append(append([]any{&t.Name, &models}, lc.dest()...), &created, &updated)
	if err := r.Scan(dest...); err != nil {
		return keys.Team{}, err
	}
	var err error
	if t.Models, err = decodeList[string]("model", models); err != nil {
		return keys.Team{}, fmt.Errorf("team %s: %w", t.Name, err)
	}
	t.Limits, t.Budget = lc.decode()
	t.CreatedAt, t.UpdatedAt = decodeTime(created), decodeTime(updated)
	return t, nil
}

// exists runs a SELECT EXISTS query.
func exists(ctx context.Context, tx *sql.Tx, query string, args ...any) (bool, error) {
	var found bool
	err := tx.QueryRowContext(ctx, query, args...).Scan(&found)
	return found, err
}

// checkUnchanged reads a record's updated_at with query and fails with
// store.ErrNotFound if there is none, or store.ErrConflict if it is not
// expected: the compare half of a compare-and-swap update.
func checkUnchanged(ctx context.Context, tx *sql.Tx, query, name string, expected int64, kind string) error {
	var cur int64
	err := tx.QueryRowContext(ctx, query, name).Scan(&cur)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	case cur != expected:
		return fmt.Errorf("the %s changed meanwhile: %w", kind, store.ErrConflict)
	}
	return nil
}

// rowScanner is what *sql.Row and *sql.Rows share.
type rowScanner interface{ Scan(...any) error }

// queryOne runs a query for one record; no row is store.ErrNotFound.
func queryOne[T any](ctx context.Context, db *DB, what string, scan func(rowScanner) (T, error), query string, args ...any) (T, error) {
	v, err := scan(db.reader.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		var zero T
		return zero, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		var zero T
		return zero, db.wrap(ctx, what, err)
	}
	return v, nil
}

// queryAll runs a query for every matching record; none is an empty,
// non-nil slice.
func queryAll[T any](ctx context.Context, db *DB, what string, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, db.wrap(ctx, what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	return out, nil
}
