package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/store"
)

var _ keys.Store = (*DB)(nil)

// keyColumns are the columns scanKey reads, in its order.
const keyColumns = `id, name, hint, models, state, expires_at, created_at, updated_at, last_used_at, prev_valid_until,
	routes, ips, tags, limit_rps, limit_rpm, limit_tpm, max_parallel, budget_limit, budget_period, team, user_name, role`

// keyPolicy is a key's policy fields in their column forms, in the order
// of keyColumns and of the SET list in UpdateKey.
type keyPolicy struct {
	models, routes, ips, tags string
	limits                    limitCols
	team, user                sql.NullString
	role                      string
}

// limitCols are the limit and budget columns shared by keys, teams and
// users.
type limitCols struct {
	rps, rpm, tpm, parallel int64
	budgetLimit             sql.NullInt64
	budgetPeriod            sql.NullString
}

func encodeLimits(l keys.Limits, b meter.Budget) limitCols {
	c := limitCols{rps: l.RPS, rpm: l.RPM, tpm: l.TPM, parallel: l.MaxParallel}
	if !b.IsZero() {
		c.budgetLimit = sql.NullInt64{Int64: int64(b.Limit), Valid: true}
		c.budgetPeriod = sql.NullString{String: string(b.Period), Valid: true}
	}
	return c
}

func (c limitCols) decode() (keys.Limits, meter.Budget) {
	l := keys.Limits{RPS: c.rps, RPM: c.rpm, TPM: c.tpm, MaxParallel: c.parallel}
	var b meter.Budget
	if c.budgetLimit.Valid {
		b.Limit = meter.Amount(c.budgetLimit.Int64)
	}
	if c.budgetPeriod.Valid {
		b.Period = meter.Period(c.budgetPeriod.String)
	}
	return l, b
}

// args returns the columns limit_rps, limit_rpm, limit_tpm, max_parallel,
// budget_limit, budget_period, in that order.
func (c limitCols) args() []any {
	return []any{c.rps, c.rpm, c.tpm, c.parallel, c.budgetLimit, c.budgetPeriod}
}

// dest is args for Scan.
func (c *limitCols) dest() []any {
	return []any{&c.rps, &c.rpm, &c.tpm, &c.parallel, &c.budgetLimit, &c.budgetPeriod}
}

// encodeList stores a list as a JSON array, empty for nil.
func encodeList[T any](field string, list []T) (string, error) {
	if list == nil {
		list = []T{}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", field, err)
	}
	return string(b), nil
}

// decodeList reads a JSON array; empty comes back nil.
func decodeList[T any](field, s string) ([]T, error) {
	var out []T
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("the stored %s list is damaged: %w", field, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// encodePolicy turns k's policy into column values.
func encodePolicy(k keys.Key) (keyPolicy, error) {
	p := keyPolicy{limits: encodeLimits(k.Limits, k.Budget), team: nullString(k.Team), user: nullString(k.User), role: k.Role}
	if p.role == "" {
		p.role = keys.RoleUser
	}
	ips := make([]string, len(k.IPs))
	for i, pfx := range k.IPs {
		if !pfx.IsValid() {
			return p, errors.New("an IP prefix is invalid")
		}
		ips[i] = pfx.String()
	}
	var err error
	if p.models, err = encodeList("models", k.Models); err != nil {
		return p, err
	}
	if p.routes, err = encodeList("routes", k.Routes); err != nil {
		return p, err
	}
	if p.ips, err = encodeList("ips", ips); err != nil {
		return p, err
	}
	p.tags, err = encodeList("tags", k.Tags)
	return p, err
}

// args returns the policy columns in keyColumns order, models first.
func (p keyPolicy) args() []any {
	return append([]any{p.models, p.routes, p.ips, p.tags}, append(p.limits.args(), p.team, p.user, p.role)...)
}

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
	pol, err := encodePolicy(k)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
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
		if err := checkRefs(ctx, tx, k.Team, k.User); err != nil {
			return err
		}
		args := append([]any{k.ID, k.Name, k.Hint, string(k.State), hash, expires, created, updated}, pol.args()...)
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO virtual_keys (id, name, hint, state, hash, expires_at, created_at, updated_at,
				models, routes, ips, tags, limit_rps, limit_rpm, limit_tpm, max_parallel, budget_limit, budget_period,
				team, user_name, role)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
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

// UpdateKey implements keys.Store.
func (db *DB) UpdateKey(ctx context.Context, k keys.Key, ifUpdatedAt time.Time) error {
	what := fmt.Sprintf("update key %s", k.ID)
	if k.Name == "" {
		return fmt.Errorf("%s: the key has no name", what)
	}
	updated, err := encodeTime("updated_at", k.UpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	expected, err := encodeTime("previous updated_at", ifUpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	expires, err := encodeOptionalTime("expires_at", k.ExpiresAt)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	pol, err := encodePolicy(k)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		var (
			state string
			cur   int64
		)
		err := tx.QueryRowContext(ctx, `SELECT state, updated_at FROM virtual_keys WHERE id = ?`, k.ID).Scan(&state, &cur)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return err
		case keys.State(state) == keys.Revoked:
			return fmt.Errorf("the key is revoked: %w", store.ErrConflict)
		case cur != expected:
			return fmt.Errorf("the key changed meanwhile: %w", store.ErrConflict)
		}
		if err := checkRefs(ctx, tx, k.Team, k.User); err != nil {
			return err
		}
		args := append(append([]any{k.Name}, pol.args()...), expires, updated, k.ID)
		if _, err := tx.ExecContext(ctx, `
			UPDATE virtual_keys SET name = ?,
				models = ?, routes = ?, ips = ?, tags = ?, limit_rps = ?, limit_rpm = ?, limit_tpm = ?, max_parallel = ?,
				budget_limit = ?, budget_period = ?, team = ?, user_name = ?, role = ?,
				expires_at = ?, updated_at = ?
			WHERE id = ?`, args...); err != nil {
			return err
		}
		return bumpKeysVersion(ctx, tx)
	})
}

// checkRefs fails with store.ErrNotFound unless team and user, where not
// empty, name a team and a user.
func checkRefs(ctx context.Context, tx *sql.Tx, team, user string) error {
	for _, ref := range []struct{ kind, table, name string }{{"team", "teams", team}, {"user", "users", user}} {
		if ref.name == "" {
			continue
		}
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+ref.table+` WHERE name = ?)`, ref.name).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("no %s named %s: %w", ref.kind, ref.name, store.ErrNotFound)
		}
	}
	return nil
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
		state                         string
		created, updated              int64
		expires, lastUsed, prevExpiry sql.NullInt64
		p                             keyPolicy
	)
	dest := []any{&k.ID, &k.Name, &k.Hint, &p.models, &state, &expires, &created, &updated, &lastUsed, &prevExpiry,
		&p.routes, &p.ips, &p.tags}
	dest = append(append(append(dest, p.limits.dest()...), &p.team, &p.user, &p.role), extra...)
	if err := r.Scan(dest...); err != nil {
		return keys.Key{}, err
	}
	var err error
	if k.Models, err = decodeList[string]("model", p.models); err != nil {
		return keys.Key{}, fmt.Errorf("key %s: %w", k.ID, err)
	}
	if k.Routes, err = decodeList[string]("route", p.routes); err != nil {
		return keys.Key{}, fmt.Errorf("key %s: %w", k.ID, err)
	}
	if k.Tags, err = decodeList[string]("tag", p.tags); err != nil {
		return keys.Key{}, fmt.Errorf("key %s: %w", k.ID, err)
	}
	ips, err := decodeList[string]("IP", p.ips)
	if err != nil {
		return keys.Key{}, fmt.Errorf("key %s: %w", k.ID, err)
	}
	for _, s := range ips {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			// Fail closed: a key whose allowlist cannot be read is not
			// served with no allowlist.
			return keys.Key{}, fmt.Errorf("key %s: the stored IP list is damaged: %w", k.ID, err)
		}
		k.IPs = append(k.IPs, pfx)
	}
	k.Limits, k.Budget = p.limits.decode()
	k.Team, k.User, k.Role = p.team.String, p.user.String, p.role
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
