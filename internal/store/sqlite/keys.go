package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/store"
)

var _ keys.Store = (*DB)(nil)

// keyColumns are the columns scanKey reads, in its order.
const keyColumns = `id, name, hint, models, state, expires_at, created_at, updated_at, last_used_at, prev_valid_until`

// CreateKey implements keys.Store.
func (db *DB) CreateKey(ctx context.Context, k keys.Key, hash []byte) error {
	what := fmt.Sprintf("create key %s", k.ID)
	switch {
	case k.ID == "":
		return errors.New("create key: the key has no id")
	case k.Name == "":
		return fmt.Errorf("%s: the key has no name", what)
	case len(hash) == 0:
		return fmt.Errorf("%s: no hash given", what)
	case !k.State.Valid():
		return fmt.Errorf("%s: unknown state %q", what, k.State)
	}
	created, err := encodeTime("created_at", k.CreatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	updated, err := encodeTime("updated_at", k.UpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	expires, err := encodeOptionalTime("expires_at", k.ExpiresAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	models := k.Models
	if models == nil {
		models = []string{}
	}
	modelsJSON, err := json.Marshal(models)
	if err != nil {
		return fmt.Errorf("%s: encode models: %w", what, err)
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		var taken bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM virtual_keys WHERE id = ?)`, k.ID).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("the id is taken: %w", store.ErrConflict)
		}
		if err := checkHashFree(ctx, tx, hash); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO virtual_keys (id, name, hint, models, state, hash, expires_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Name, k.Hint, string(modelsJSON), string(k.State), hash, expires, created, updated); err != nil {
			return err
		}
		return bumpKeysVersion(ctx, tx)
	})
}

// KeyByHash implements keys.Store. A hash that is some key's current
// secret wins over one that is a previous secret; a store that the keys
// package filled never has both.
func (db *DB) KeyByHash(ctx context.Context, hash []byte) (keys.Key, bool, error) {
	const what = "look up key by hash"
	if len(hash) == 0 {
		return keys.Key{}, false, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	row := db.reader.QueryRowContext(ctx, `
		SELECT `+keyColumns+`, 0 AS previous FROM virtual_keys WHERE hash = ?1
		UNION ALL
		SELECT `+keyColumns+`, 1 AS previous FROM virtual_keys WHERE prev_hash = ?1
		ORDER BY previous LIMIT 1`, hash)
	var previous bool
	k, err := scanKey(row, &previous)
	if errors.Is(err, sql.ErrNoRows) {
		return keys.Key{}, false, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return keys.Key{}, false, db.wrap(ctx, what, err)
	}
	return k, previous, nil
}

// KeyByID implements keys.Store.
func (db *DB) KeyByID(ctx context.Context, id string) (keys.Key, error) {
	what := fmt.Sprintf("read key %s", id)
	row := db.reader.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM virtual_keys WHERE id = ?`, id)
	k, err := scanKey(row)
	if errors.Is(err, sql.ErrNoRows) {
		return keys.Key{}, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return keys.Key{}, db.wrap(ctx, what, err)
	}
	return k, nil
}

// ListKeys implements keys.Store.
func (db *DB) ListKeys(ctx context.Context) ([]keys.Key, error) {
	const what = "list keys"
	rows, err := db.reader.QueryContext(ctx, `SELECT `+keyColumns+` FROM virtual_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	defer rows.Close()
	ks := []keys.Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, db.wrap(ctx, what, err)
		}
		ks = append(ks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	return ks, nil
}

// SetKeyState implements keys.Store.
func (db *DB) SetKeyState(ctx context.Context, id string, s keys.State, now time.Time) error {
	what := fmt.Sprintf("set state of key %s to %s", id, s)
	if !s.Valid() {
		return fmt.Errorf("set state of key %s: unknown state %q", id, s)
	}
	ts, err := encodeTime("time", now)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		cur, err := keyState(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case cur == s:
			return nil
		case cur == keys.Revoked:
			return fmt.Errorf("the key is revoked: %w", store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE virtual_keys SET state = ?, updated_at = ? WHERE id = ?`, string(s), ts, id); err != nil {
			return err
		}
		return bumpKeysVersion(ctx, tx)
	})
}

// RotateKey implements keys.Store.
func (db *DB) RotateKey(ctx context.Context, id string, newHash []byte, newHint string, oldValidUntil, now time.Time) error {
	what := fmt.Sprintf("rotate key %s", id)
	if len(newHash) == 0 {
		return fmt.Errorf("%s: no hash given", what)
	}
	ts, err := encodeTime("time", now)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	until, err := encodeTime("end of the grace period", oldValidUntil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		cur, err := keyState(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur == keys.Revoked {
			return fmt.Errorf("the key is revoked: %w", store.ErrConflict)
		}
		if err := checkHashFree(ctx, tx, newHash); err != nil {
			return err
		}
		// The right-hand sides see the row as it was: the current hash
		// becomes the previous one.
		if _, err := tx.ExecContext(ctx, `
			UPDATE virtual_keys
			SET prev_hash = hash, prev_valid_until = ?, hash = ?, hint = ?, updated_at = ?
			WHERE id = ?`, until, newHash, newHint, ts, id); err != nil {
			return err
		}
		return bumpKeysVersion(ctx, tx)
	})
}

// TouchKey implements keys.Store. It does not bump the keys version: a
// last-used time changes no authentication decision.
func (db *DB) TouchKey(ctx context.Context, id string, now time.Time) error {
	what := fmt.Sprintf("record use of key %s", id)
	ts, err := encodeTime("time", now)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE virtual_keys SET last_used_at = MAX(COALESCE(last_used_at, ?), ?) WHERE id = ?`, ts, ts, id)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}

// KeysVersion implements keys.Store.
func (db *DB) KeysVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := db.reader.QueryRowContext(ctx, `SELECT version FROM virtual_keys_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, db.wrap(ctx, "read the keys version", err)
	}
	return v, nil
}

// bumpKeysVersion is part of every write that can change an authentication
// decision, in its transaction.
func bumpKeysVersion(ctx context.Context, tx *sql.Tx) error {
	res, err := tx.ExecContext(ctx, `UPDATE virtual_keys_version SET version = version + 1 WHERE id = 1`)
	if err != nil {
		return err
	}
	if err := mustAffect(res); err != nil {
		return fmt.Errorf("the keys version row is missing; the database was edited by hand: %w", err)
	}
	return nil
}

// keyState returns the state of key id, or store.ErrNotFound.
func keyState(ctx context.Context, tx *sql.Tx, id string) (keys.State, error) {
	var s string
	err := tx.QueryRowContext(ctx, `SELECT state FROM virtual_keys WHERE id = ?`, id).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrNotFound
	}
	return keys.State(s), err
}

// checkHashFree refuses a hash that any key uses as its current or previous
// secret. The UNIQUE constraints cover each column alone, not across them.
func checkHashFree(ctx context.Context, tx *sql.Tx, hash []byte) error {
	var taken bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM virtual_keys WHERE hash = ?1 OR prev_hash = ?1)`, hash).
		Scan(&taken); err != nil {
		return err
	}
	if taken {
		return fmt.Errorf("the hash belongs to another secret: %w", store.ErrConflict)
	}
	return nil
}

// scanKey reads keyColumns, then extra, from one row.
func scanKey(r interface{ Scan(...any) error }, extra ...any) (keys.Key, error) {
	var (
		k                             keys.Key
		models, state                 string
		created, updated              int64
		expires, lastUsed, prevExpiry sql.NullInt64
	)
	dest := append([]any{&k.ID, &k.Name, &k.Hint, &models, &state, &expires, &created, &updated, &lastUsed, &prevExpiry}, extra...)
	if err := r.Scan(dest...); err != nil {
		return keys.Key{}, err
	}
	if err := json.Unmarshal([]byte(models), &k.Models); err != nil {
		return keys.Key{}, fmt.Errorf("key %s: the stored model list is damaged: %w", k.ID, err)
	}
	if len(k.Models) == 0 {
		k.Models = nil
	}
	k.State = keys.State(state)
	k.ExpiresAt, k.CreatedAt, k.UpdatedAt = decodeNullTime(expires), decodeTime(created), decodeTime(updated)
	k.LastUsedAt, k.PreviousValidUntil = decodeNullTime(lastUsed), decodeNullTime(prevExpiry)
	return k, nil
}

// encodeOptionalTime stores the zero time as NULL, anything else as
// encodeTime does.
func encodeOptionalTime(field string, t time.Time) (sql.NullInt64, error) {
	if t.IsZero() {
		return sql.NullInt64{}, nil
	}
	n, err := encodeTime(field, t)
	if err != nil {
		return sql.NullInt64{}, err
	}
	return sql.NullInt64{Int64: n, Valid: true}, nil
}
