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

// userColumns are the columns scanUser reads, in its order.
const userColumns = `name, team, role, limit_rps, limit_rpm, limit_tpm, max_parallel, budget_limit, budget_period, created_at, updated_at`

// CreateUser implements keys.UserStore.
func (db *DB) CreateUser(ctx context.Context, u keys.User) error {
	what := fmt.Sprintf("create user %s", u.Name)
	if u.Name == "" {
		return errors.New("create user: the user has no name")
	}
	created, err := encodeTime("created_at", u.CreatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	updated, err := encodeTime("updated_at", u.UpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		if taken, err := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM users WHERE name = ?)`, u.Name); err != nil {
			return err
		} else if taken {
			return fmt.Errorf("the name is taken: %w", store.ErrConflict)
		}
		if err := checkRefs(ctx, tx, u.Team, ""); err != nil {
			return err
		}
		args := append(append([]any{u.Name, nullString(u.Team), roleOrDefault(u.Role)}, encodeLimits(u.Limits, u.Budget).args()...), created, updated)
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
			return err
		}
		return bumpKeysVersion(ctx, tx)
	})
}

func roleOrDefault(r string) string {
	if r == "" {
		return keys.RoleUser
	}
	return r
}

// UserByName implements keys.UserStore.
func (db *DB) UserByName(ctx context.Context, name string) (keys.User, error) {
	return queryOne(ctx, db, fmt.Sprintf("read user %s", name), scanUser, `SELECT `+userColumns+` FROM users WHERE name = ?`, name)
}

// ListUsers implements keys.UserStore.
func (db *DB) ListUsers(ctx context.Context) ([]keys.User, error) {
	return queryAll(ctx, db, "list users", scanUser, `SELECT `+userColumns+` FROM users ORDER BY name`)
}

// UpdateUser implements keys.UserStore.
func (db *DB) UpdateUser(ctx context.Context, u keys.User, ifUpdatedAt time.Time) error {
	what := fmt.Sprintf("update user %s", u.Name)
	updated, err := encodeTime("updated_at", u.UpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	expected, err := encodeTime("previous updated_at", ifUpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		if err := checkUnchanged(ctx, tx, `SELECT updated_at FROM users WHERE name = ?`, u.Name, expected, "user"); err != nil {
			return err
		}
		if err := checkRefs(ctx, tx, u.Team, ""); err != nil {
			return err
		}
		args := append(append([]any{nullString(u.Team), roleOrDefault(u.Role)}, encodeLimits(u.Limits, u.Budget).args()...), updated, u.Name)
		if _, err := tx.ExecContext(ctx, `
			UPDATE users SET team = ?, role = ?, limit_rps = ?, limit_rpm = ?, limit_tpm = ?, max_parallel = ?,
				budget_limit = ?, budget_period = ?, updated_at = ?
			WHERE name = ?`, args...); err != nil {
			return err
		}
		return bumpKeysVersion(ctx, tx)
	})
}

// DeleteUser implements keys.UserStore.
func (db *DB) DeleteUser(ctx context.Context, name string) error {
	what := fmt.Sprintf("delete user %s", name)
	return db.write(ctx, what, func(tx *sql.Tx) error {
		if found, err := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM users WHERE name = ?)`, name); err != nil {
			return err
		} else if !found {
			return store.ErrNotFound
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM virtual_keys WHERE user_name = ? AND state != 'revoked'`, name).
			Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d key(s) act for the user: %w", n, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name); err != nil {
			return err
		}
		return bumpKeysVersion(ctx, tx)
	})
}

// scanUser reads userColumns from one row.
func scanUser(r rowScanner) (keys.User, error) {
	var (
		u                keys.User
		team             sql.NullString
		lc               limitCols
		created, updated int64
	)
	dest := append(append([]any{&u.Name, &team, &u.Role}, lc.dest()...), &created, &updated)
	if err := r.Scan(dest...); err != nil {
		return keys.User{}, err
	}
	u.Team = team.String
	u.Limits, u.Budget = lc.decode()
	u.CreatedAt, u.UpdatedAt = decodeTime(created), decodeTime(updated)
	return u, nil
}
